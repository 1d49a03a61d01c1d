#!/usr/bin/env python3
"""Write the hand-made seed inputs of every fuzz target into fuzz/corpus/<target>/.

Each seed is a real wire value (a push as the kiosk sends it, gzip and plain, each event
kind, a profile, the demo survey) or an edge case HQ must refuse cleanly. Re-running is
harmless: files are named after their content's purpose and overwritten.
"""
import copy
import gzip
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")

NODE = "01936b2e-7c4a-7000-8000-0000000000bb"


def envelope(n, kind, body, device_time="2026-11-23T08:15:00Z", offset=420, seq=None):
    return {
        "id": "01936b2e-7c4a-7000-8000-%012x" % n,
        "seq": n if seq is None else seq,
        "device_time": device_time,
        "utc_offset_minutes": offset,
        "kind": kind,
        "body": body,
    }


def profile(**over):
    p = {
        "regular_id": "01936b2e-7c4a-7000-8000-0000000000aa",
        "hlc": {"wall_ms": 1764000000000, "counter": 1, "node": NODE},
        "name": "  Lan ",
        "phone": "+84 90-123 4567",
        "usual": {"item": "latte", "size": "large", "milk": "oat",
                  "extras": ["extra_shot"], "note": "extra hot"},
        "dietary": "nut allergy",
        "consent": {"version": 1, "given_at": "2026-11-23T08:00:00Z",
                    "dietary_given_at": "2026-11-23T08:00:00Z"},
    }
    p.update(over)
    return p


RATING = {"survey_version": 3, "touchpoint": "visit", "scale": 5, "score": 4, "nps": 9,
          "reasons": ["fast_service", "tasty"], "comment": "Cà phê ngon ☕",
          "suspected_repeat": False}

EVENTS = {
    "rating": envelope(1, "rating", RATING),
    "rating_minimal": envelope(2, "rating", {"survey_version": 1, "touchpoint": "visit",
                                             "scale": 4, "score": 1}),
    "rating_details": envelope(3, "rating_details", {
        "rating_id": "01936b2e-7c4a-7000-8000-000000000001",
        "reasons": ["slow_service"], "comment": "waited 20 minutes"}),
    "device_health": envelope(4, "device_health", {
        "queue_depth": 12, "oldest_unsent_age_seconds": 3600, "app_version": "0.1.0",
        "last_error": "hq unreachable"}),
    "regular_upserted": envelope(5, "regular_upserted", profile()),
    "visit": envelope(6, "visit", {"regular_id": "01936b2e-7c4a-7000-8000-0000000000aa",
                                   "rating_id": "01936b2e-7c4a-7000-8000-000000000001",
                                   "unhappy": False}),
    "regular_erased": envelope(7, "regular_erased", {
        "regular_id": "01936b2e-7c4a-7000-8000-0000000000aa",
        "erased_at": "2026-11-23T09:00:00Z"}),
    # Edge cases, each refused or flagged for one reason.
    "future_time": envelope(8, "rating", RATING, device_time="2030-01-01T00:00:00Z"),
    "offset_out_of_range": envelope(9, "rating", RATING, offset=5000),
    "seq_past_i64": envelope(10, "rating", RATING, seq=2**64 - 1),
    "unknown_kind": envelope(11, "coupon_redeemed", {"code": "X"}),
    "score_out_of_range": envelope(12, "rating", dict(RATING, score=6)),
    "bad_slug": envelope(13, "rating", dict(RATING, reasons=["Fast Service"])),
    "nul_comment": envelope(14, "rating", dict(RATING, comment="a\u0000b")),
    "dietary_without_consent": envelope(15, "regular_upserted", profile(
        consent={"version": 1, "given_at": "2026-11-23T08:00:00Z"})),
    "hlc_far_future": envelope(16, "regular_upserted", profile(
        hlc={"wall_ms": 10**15, "counter": 0, "node": NODE})),
}


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def js(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode()


def main():
    # event: each kind and each edge case, as one JSON event.
    for name, e in EVENTS.items():
        write("event", name, js(e))

    # push_body: first byte 0 = plain JSON, 1 = the gzip stream itself, 2 = gzip done by
    # the target (see fuzz_targets/push_body.rs).
    valid = [v for k, v in EVENTS.items() if k in (
        "rating", "rating_minimal", "rating_details", "device_health", "regular_upserted",
        "visit", "regular_erased")]
    push = js({"protocol": "1.0", "events": valid})
    mixed = js({"protocol": "1.0", "events": list(EVENTS.values()) + [valid[0], 42, None]})
    write("push_body", "plain", b"\x00" + push)
    write("push_body", "plain_mixed", b"\x00" + mixed)
    write("push_body", "gzip", b"\x01" + gzip.compress(push, mtime=0))
    write("push_body", "gzip_mixed", b"\x01" + gzip.compress(mixed, mtime=0))
    write("push_body", "gzip_by_target", b"\x02" + push)
    write("push_body", "gzip_upper_header", b"\x05" + gzip.compress(push, mtime=0))
    write("push_body", "empty_batch", b"\x00" + js({"protocol": "1.0", "events": []}))
    write("push_body", "major_2", b"\x00" + js({"protocol": "2.0", "events": valid}))
    write("push_body", "bad_protocol", b"\x00" + js({"protocol": "one", "events": []}))
    write("push_body", "gzip_bomb", b"\x01" + gzip.compress(b" " * 300_000, mtime=0))
    write("push_body", "gzip_truncated", b"\x01" + gzip.compress(push, mtime=0)[:40])
    write("push_body", "gzip_two_members",
          b"\x01" + gzip.compress(push, mtime=0) + gzip.compress(b"[]", mtime=0))
    write("push_body", "unsupported_encoding", b"\x0c" + push)

    # regular: first byte 0 = NewRegular JSON, 1 = arbitrary fields.
    write("regular", "full", b"\x00" + js(profile()))
    write("regular", "name_only", b"\x00" + js(profile(phone=None, dietary=None,
                                                      usual={})))
    write("regular", "blank_notes", b"\x00" + js(profile(usual={"note": "   "},
                                                        dietary=" ")))
    write("regular", "short_phone", b"\x00" + js(profile(phone="12-34")))
    write("regular", "arbitrary", b"\x01" + bytes(range(256)))

    # hlc: two text forms, one a line.
    a = "001764000000000-0000000001-01936b2e7c4a70008000000000000bb"
    write("hlc", "two_stamps", (a + "\n" + "001764000000000-0000000002-" + "0" * 32).encode())
    write("hlc", "padded_zero", ("0" * 15 + "-" + "0" * 10 + "-" + "f" * 32).encode())
    write("hlc", "arbitrary", bytes(range(64)))

    # survey_config: the demo survey, a four-face one with NPS, and remember-me off.
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_survey.json"),
              "rb") as f:
        demo = json.load(f)
    write("survey_config", "demo", js(demo))
    nps = copy.deepcopy(demo)
    nps["scale"] = 4
    nps["nps_question"] = {"en": "Would you recommend us?", "vi": "Bạn có giới thiệu không?"}
    write("survey_config", "nps_four_faces", js(nps))
    off = copy.deepcopy(demo)
    off["remember_me"]["enabled"] = False
    off["remember_me"]["menu"]["items"] = []
    off["languages"] = ["vi"]
    write("survey_config", "remember_me_off", js(off))
    return 0


if __name__ == "__main__":
    sys.exit(main())
