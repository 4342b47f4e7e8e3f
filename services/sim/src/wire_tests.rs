//! The wire formats' tests: each carrier's opening, frames, echoed marks and hang-up.

use super::*;

fn twilio() -> Wire {
    Wire::Twilio(Box::new(TwilioStream::new("AC1", "CA1", "MZ1", Map::new())))
}

#[tokio::test(start_paused = true)]
async fn a_twilio_stream_opens_sends_mu_law_and_echoes_marks_once_played() {
    let mut wire = twilio();
    let opening = wire.opening();
    assert!(opening[0].to_text().unwrap().contains("\"connected\""));
    let start: Value = serde_json::from_str(opening[1].to_text().unwrap()).unwrap();
    assert_eq!(start["start"]["mediaFormat"]["encoding"], "audio/x-mulaw");
    assert_eq!(start["start"]["callSid"], "CA1");
    let frame: Value = serde_json::from_str(wire.frame(&[0; 160]).to_text().unwrap()).unwrap();
    assert_eq!(frame["media"]["chunk"], "1");
    let payload = frame["media"]["payload"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap()
            .len(),
        160
    );
    // 0.5 s of bot audio, then a mark: echoed only once that audio has played.
    let audio = base64::engine::general_purpose::STANDARD.encode(vec![0xffu8; 4000]);
    let media = json!({"event": "media", "streamSid": "MZ1", "media": {"payload": audio}});
    assert_eq!(wire.heard(text(media)), Heard::BotAudio(0.5));
    let mark_message = json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "m1"}});
    assert_eq!(wire.heard(text(mark_message)), Heard::Nothing);
    assert!(wire.due(Instant::now()).is_empty());
    tokio::time::advance(Duration::from_millis(510)).await;
    let echoed = wire.due(Instant::now());
    assert_eq!(echoed.len(), 1);
    assert!(echoed[0].to_text().unwrap().contains("\"m1\""));
    assert!(wire.hang_up().to_text().unwrap().contains("\"stop\""));
}

#[tokio::test(start_paused = true)]
async fn a_telnyx_stream_opens_with_its_call_and_echoes_marks_once_played() {
    let stream = TelnyxStream::new("s1", "v3:c1", Some("c3RhdGU=".into()));
    let mut wire = Wire::Telnyx(Box::new(stream));
    let opening = wire.opening();
    assert!(opening[0].to_text().unwrap().contains("\"connected\""));
    let start: Value = serde_json::from_str(opening[1].to_text().unwrap()).unwrap();
    assert_eq!(start["start"]["call_control_id"], "v3:c1");
    assert_eq!(start["start"]["client_state"], "c3RhdGU=");
    assert_eq!(start["start"]["media_format"]["encoding"], "PCMU");
    let frame: Value = serde_json::from_str(wire.frame(&[0; 160]).to_text().unwrap()).unwrap();
    assert_eq!(
        (&frame["media"]["chunk"], &frame["stream_id"]),
        (&json!("1"), &json!("s1"))
    );
    let audio = base64::engine::general_purpose::STANDARD.encode(vec![0xffu8; 1600]);
    let media = json!({"event": "media", "media": {"payload": audio}});
    assert_eq!(wire.heard(text(media)), Heard::BotAudio(0.2));
    let mark = json!({"event": "mark", "mark": {"name": "m1"}});
    assert_eq!(wire.heard(text(mark)), Heard::Nothing);
    assert!(wire.due(Instant::now()).is_empty());
    tokio::time::advance(Duration::from_millis(210)).await;
    let echoed: Value =
        serde_json::from_str(wire.due(Instant::now())[0].to_text().unwrap()).unwrap();
    assert_eq!(
        (&echoed["mark"]["name"], &echoed["stream_id"]),
        (&json!("m1"), &json!("s1"))
    );
    assert_eq!(wire.heard(text(json!({"event": "clear"}))), Heard::Clear);
    assert!(wire.hang_up().to_text().unwrap().contains("\"stop\""));
}
#[tokio::test(start_paused = true)]
async fn a_plivo_stream_starts_with_its_headers_and_answers_checkpoints_once_played() {
    let mut wire = Wire::Plivo(Box::new(PlivoStream::new("st1", "c-1", "call_id=7")));
    let opening = wire.opening();
    let start: Value = serde_json::from_str(opening[0].to_text().unwrap()).unwrap();
    assert_eq!(start["start"]["callId"], "c-1");
    assert_eq!(start["start"]["mediaFormat"]["encoding"], "audio/x-mulaw");
    assert_eq!(start["extra_headers"], "call_id=7");
    let frame: Value = serde_json::from_str(wire.frame(&[0; 160]).to_text().unwrap()).unwrap();
    assert_eq!(
        (&frame["event"], &frame["streamId"]),
        (&json!("media"), &json!("st1"))
    );
    let audio = base64::engine::general_purpose::STANDARD.encode(vec![0xffu8; 4000]);
    let play = json!({"event": "playAudio", "media": {"contentType": "audio/x-mulaw",
        "sampleRate": 8000, "payload": audio}});
    assert_eq!(wire.heard(text(play)), Heard::BotAudio(0.5));
    let checkpoint = json!({"event": "checkpoint", "streamId": "st1", "name": "m1"});
    assert_eq!(wire.heard(text(checkpoint)), Heard::Nothing);
    assert!(wire.due(Instant::now()).is_empty());
    tokio::time::advance(Duration::from_millis(510)).await;
    let played: Value =
        serde_json::from_str(wire.due(Instant::now())[0].to_text().unwrap()).unwrap();
    assert_eq!(
        (&played["event"], &played["name"]),
        (&json!("playedStream"), &json!("m1"))
    );
    let clear = json!({"event": "clearAudio", "streamId": "st1"});
    assert_eq!(wire.heard(text(clear)), Heard::Clear);
    assert!(matches!(wire.hang_up(), Message::Close(_)));
}

#[tokio::test(start_paused = true)]
async fn a_vonage_socket_connects_with_its_headers_and_echoes_notifies_once_played() {
    let headers = json!({"call_id": "7"}).as_object().cloned().unwrap();
    let mut wire = Wire::Vonage(Box::new(VonageStream::new(headers)));
    let connected: Value = serde_json::from_str(wire.opening()[0].to_text().unwrap()).unwrap();
    assert_eq!(connected["event"], "websocket:connected");
    assert_eq!(connected["content-type"], "audio/l16;rate=16000");
    assert_eq!(connected["call_id"], "7");
    assert!(matches!(wire.frame(&[0; 320]), Message::Binary(b) if b.len() == 640));
    // 0.5 s of 16 kHz audio, then a notify: echoed only once that audio has played.
    assert_eq!(
        wire.heard(Message::Binary(vec![0u8; 16_000].into())),
        Heard::BotAudio(0.5)
    );
    let notify = json!({"action": "notify", "payload": {"mark": "m1"}});
    assert_eq!(wire.heard(text(notify)), Heard::Nothing);
    assert!(wire.due(Instant::now()).is_empty());
    tokio::time::advance(Duration::from_millis(510)).await;
    let echoed: Value =
        serde_json::from_str(wire.due(Instant::now())[0].to_text().unwrap()).unwrap();
    assert_eq!(
        echoed,
        json!({"event": "websocket:notify", "payload": {"mark": "m1"}})
    );
    assert_eq!(wire.heard(text(json!({"action": "clear"}))), Heard::Clear);
    assert!(matches!(wire.hang_up(), Message::Close(_)));
}

#[tokio::test(start_paused = true)]
async fn an_exotel_stream_starts_with_its_call_and_echoes_marks_once_played() {
    let mut stream = ExotelStream::new("MZ1", "ex-1", "vox1", "+919876543210", "+918047491899");
    stream.custom_parameters.insert("k".into(), json!("v"));
    let mut wire = Wire::Exotel(Box::new(stream));
    let opening = wire.opening();
    let start: Value = serde_json::from_str(opening[1].to_text().unwrap()).unwrap();
    assert_eq!(start["start"]["call_sid"], "ex-1");
    assert_eq!(start["start"]["custom_parameters"]["k"], "v");
    assert_eq!(start["start"]["media_format"]["bit_rate"], "16");
    let media: Value = serde_json::from_str(wire.frame(&[1; 160]).to_text().unwrap()).unwrap();
    let payload = media["media"]["payload"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap()
            .len(),
        320
    );
    // 0.5 s of 8 kHz PCM16 (8000 bytes), then a mark: echoed only once that audio has played.
    let audio = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 8_000]);
    let sent = json!({"event": "media", "stream_sid": "MZ1", "media": {"payload": audio}});
    assert_eq!(wire.heard(text(sent)), Heard::BotAudio(0.5));
    let mark = json!({"event": "mark", "stream_sid": "MZ1", "mark": {"name": "m1"}});
    assert_eq!(wire.heard(text(mark)), Heard::Nothing);
    assert!(wire.due(Instant::now()).is_empty());
    tokio::time::advance(Duration::from_millis(510)).await;
    let echoed: Value =
        serde_json::from_str(wire.due(Instant::now())[0].to_text().unwrap()).unwrap();
    assert_eq!(echoed["mark"]["name"], "m1");
    let stop: Value = serde_json::from_str(wire.hang_up().to_text().unwrap()).unwrap();
    assert_eq!(stop["event"], "stop");
}
