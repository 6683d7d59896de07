use crate::helpers::{TestApp, fixture, listed, source, venue};

#[tokio::test]
async fn each_bad_ics_line_or_event_is_rejected_alone_with_its_line() {
    let mut app = TestApp::with_source("ics", "broken-ics", "/b.ics", venue("v", "V")).await;
    app.upstream
        .serve("/b.ics", "text/calendar", &fixture("broken.ics"));
    let report = &app.poll().await["broken-ics"];
    assert_eq!(
        report.rejections,
        vec![
            "line 8: not an iCalendar content line (no ':' between name and value)".to_owned(),
            "line 35: this VEVENT never ends (END:VCALENDAR at line 39 comes first)".to_owned(),
            "line 10: the VEVENT \"Rear Window\" has no DTSTART".to_owned(),
            "line 17: unknown TZID \"Mars/Olympus_Mons\": use an IANA zone name such as Europe/London".to_owned(),
            "line 23: RRULE FREQ=HOURLY is not supported (screenings repeat daily at most): list these screenings one by one (event \"Monthly Cult Classic\")".to_owned(),
            "line 28: DTSTART \"20261205\" is a whole day, not a start time".to_owned(),
        ]
    );
    assert_eq!(
        report.rejection_kinds,
        vec![
            "bad_line",
            "bad_line",
            "missing_dtstart",
            "unknown_tzid",
            "rrule_unsupported",
            "bad_date"
        ]
    );
    // The valid events still go through.
    assert_eq!(report.new, 2);
    assert!(report.swept(), "the valid events are still cleaned up");
    let screenings = listed(&app.events().await);
    assert!(screenings.contains_key("Chinatown") && screenings.contains_key("The Conversation"));
}

#[tokio::test]
async fn each_bad_csv_row_is_rejected_alone_with_its_line() {
    let mut app = TestApp::spawn(|up| {
        vec![
            source("csv", "broken-csv", up.url("/b.csv"), venue("v", "V")),
            source("csv", "no-title", up.url("/n.csv"), venue("w", "W")),
            source("json", "bad-json", up.url("/b.json"), venue("x", "X")),
            source("ics", "missing", up.url("/missing.ics"), venue("y", "Y")),
        ]
    })
    .await;
    app.upstream
        .serve("/b.csv", "text/csv", &fixture("broken.csv"));
    app.upstream
        .serve("/n.csv", "text/csv", "film,start\nJaws,2026-12-01T20:00\n");
    app.upstream.serve(
        "/b.json",
        "application/json",
        r#"{"screenings": [{"title": "Jaws"}, {"title": "Jaws", "start": "2026-12-01T20:00", "accessibility": ["smell-o-vision"]}, {"title": "Heat", "start": "2026-12-01T20:00"}]}"#,
    );
    let reports = app.poll().await;
    let report = &reports["broken-csv"];
    assert_eq!(
        report.rejections,
        vec![
            "line 3: the row has 3 columns, the header 5".to_owned(),
            "line 4: start \"tomorrow evening\" is not an ISO 8601 local date-time like 2026-12-05T19:30".to_owned(),
            "line 5: start \"2026-12-31T25:00\" is not an ISO 8601 local date-time like 2026-12-05T19:30".to_owned(),
            "line 6: booking_url \"javascript:alert(1)\" is not an http(s) URL".to_owned(),
            "line 7: sold_out \"maybe\" is not yes/no".to_owned(),
        ]
    );
    assert_eq!(
        report.rejection_kinds,
        vec![
            "wrong_columns",
            "bad_date",
            "bad_date",
            "bad_url",
            "bad_flag"
        ]
    );
    assert_eq!(report.new, 2);

    assert_eq!(
        reports["no-title"].rejections,
        vec!["the CSV has no `title` column (columns: film, start)".to_owned()]
    );
    let json = &reports["bad-json"];
    assert_eq!(json.rejected, 2);
    assert!(
        json.rejections[0].starts_with("screenings[0]: missing field `start`"),
        "{:?}",
        json.rejections
    );
    assert!(
        json.rejections[1].starts_with("screenings[1]: accessibility \"smell-o-vision\""),
        "{:?}",
        json.rejections
    );
    assert_eq!(json.new, 1);
    assert_eq!(reports["missing"].rejection_kinds, vec!["http_status"]);

    let screenings = listed(&app.events().await);
    let mut titles: Vec<_> = screenings.keys().cloned().collect();
    titles.sort();
    assert_eq!(titles, vec!["Chinatown", "Heat", "The Conversation"]);
}
