//! Forms posted from elsewhere are refused: a missing or wrong token, a token of
//! another session, a foreign `Origin`, a cross-site `Sec-Fetch-Site`. The refused
//! request changes nothing (the session stays signed in).

use countertop_hq::storage::accounts::Role;

use crate::common::web::WebClient;
use crate::common::{spawn_app, Backend};

fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn still_signed_in(client: &mut WebClient) {
    let (status, _) = client.get("/").await;
    assert_eq!(status, 200, "the refused logout changed nothing");
}

async fn a_post_without_the_right_token_or_from_another_site_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, mut client) = app.signed_in(Role::Admin, &[]).await;
    let (_, mut other) = app.signed_in(Role::Admin, &[]).await;
    let token = client.csrf.clone().expect("token");
    let foreign = other.csrf.clone().expect("token");
    let origin = Some(app.address.as_str());
    type Case<'a> = (&'a str, Vec<(String, String)>, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("missing token", form(&[]), origin),
        ("wrong token", form(&[("csrf", &"0".repeat(64))]), origin),
        (
            "another session's token",
            form(&[("csrf", &foreign)]),
            origin,
        ),
        (
            "foreign origin",
            form(&[("csrf", &token)]),
            Some("http://evil.example"),
        ),
    ];
    for (case, fields, origin) in cases {
        let resp = client.post_raw("/logout", &fields, origin).await;
        assert_eq!(resp.status(), 403, "{case}");
        let body = resp.text().await.expect("body");
        assert!(body.contains("Form expired"), "{case}: {body}");
        still_signed_in(&mut client).await;
    }
    let resp = client
        .http
        .post(client.url("/logout"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 403, "cross-site fetch metadata");
    still_signed_in(&mut client).await;
    // The right token, from this site, works.
    let resp = client
        .post_raw("/logout", &form(&[("csrf", &token)]), origin)
        .await;
    assert_eq!(resp.status(), 303);
    still_signed_in(&mut other).await;
}

async fn the_sign_in_form_needs_its_cookie_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, email) = app.user_of_role(Role::Admin, &[]).await;
    // A client that never loaded the form (no ct_csrf cookie) posts a made-up token.
    let client = WebClient::new(&app);
    let token = "a".repeat(64);
    let resp = client
        .post_raw(
            "/login",
            &form(&[
                ("email", &email),
                ("password", crate::common::web::PASSWORD),
                ("csrf", &token),
            ]),
            Some(&app.address),
        )
        .await;
    assert_eq!(resp.status(), 403);
    let mut client = WebClient::new(&app);
    client.get("/login").await;
    let resp = client
        .post_raw(
            "/login",
            &form(&[
                ("email", &email),
                ("password", crate::common::web::PASSWORD),
                ("csrf", client.csrf.as_deref().unwrap_or("")),
            ]),
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(resp.status(), 403, "login CSRF from another origin");
}

crate::on_both_backends!(
    a_post_without_the_right_token_or_from_another_site_is_refused,
    the_sign_in_form_needs_its_cookie_token,
);
