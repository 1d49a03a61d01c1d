//! The kiosk's side of the contract: requests built and responses read with the typed
//! structs of `countertop-protocol`, exactly as the kiosk's sync client will.

use chrono::Utc;
use countertop_protocol::{
    ConfigResponse, DeviceHealth, EnrollRequest, EnrollResponse, Event, EventBody, EventOutcome,
    NewDeviceHealth, NewRating, NewRatingDetails, PushRequest, PushResponse, Rating, RatingDetails,
    PROTOCOL_VERSION,
};
use uuid::Uuid;

use crate::common::{spawn_app, Backend};

async fn typed_kiosk_client_enrolls_pushes_and_pulls(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "Asia/Ho_Chi_Minh").await;
    let code = app.enroll_code(store).await;
    let enrolled: EnrollResponse = app
        .client
        .post(app.url("/api/v1/enroll"))
        .json(&EnrollRequest {
            protocol: PROTOCOL_VERSION,
            code,
            device_name: Some("counter".into()),
        })
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("an EnrollResponse");
    assert_eq!(enrolled.store_id, store);

    let rating = Rating::new(NewRating {
        survey_version: 1,
        touchpoint: "visit".into(),
        scale: 5,
        score: 4,
        nps: Some(9),
        reasons: vec!["fast_service".into()],
        comment: None,
        suspected_repeat: false,
    })
    .expect("valid rating");
    let rating_id = Uuid::now_v7();
    let details = RatingDetails::new(NewRatingDetails {
        rating_id,
        reasons: vec!["tasty".into()],
        comment: Some("great coffee".into()),
        nps: Some(9),
    })
    .expect("valid details");
    let health = DeviceHealth::new(NewDeviceHealth {
        queue_depth: 0,
        oldest_unsent_age_seconds: None,
        app_version: "0.1.0".into(),
        last_error: None,
        quarantined: Some(0),
    })
    .expect("valid health");
    let now = Utc::now();
    let events = vec![
        Event::new(rating_id, 1, now, 420, EventBody::Rating(rating)).expect("event"),
        Event::new(
            Uuid::now_v7(),
            2,
            now,
            420,
            EventBody::RatingDetails(details),
        )
        .expect("event"),
        Event::new(Uuid::now_v7(), 3, now, 420, EventBody::DeviceHealth(health)).expect("event"),
    ];
    let pushed: PushResponse = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&enrolled.device_token)
        .json(&PushRequest {
            protocol: PROTOCOL_VERSION,
            events: events.clone(),
        })
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a PushResponse");
    assert_eq!(pushed.accepted, 3);
    for (result, event) in pushed.results.iter().zip(&events) {
        assert_eq!(result.id, Some(event.id()));
        assert_eq!(result.outcome, EventOutcome::Accepted { flags: vec![] });
    }

    let config: ConfigResponse = app
        .client
        .get(app.url(&format!("/api/v1/stores/{}/config", enrolled.store_id)))
        .bearer_auth(&enrolled.device_token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a ConfigResponse");
    let survey = config.config.expect("first pull has the survey");
    assert_eq!(survey.languages, ["en", "vi"]);
    assert_eq!(config.cursor, 1);
}

crate::on_both_backends!(typed_kiosk_client_enrolls_pushes_and_pulls);
