//! Agents from the users pages (what `expand` left out filled by the bulk presence and the
//! routing status calls) and from queue members (presence in bulk calls of 50).

use super::super::*;
use super::*;
use serde_json::json;

#[tokio::test]
async fn users_pages_fill_what_expand_left_out() {
    let page1 = json!({
        "entities": [user("u1", true, true), user("u2", false, true), user("u3", true, false), {"name": "no id"}],
        "pageSize": 500, "pageNumber": 1, "total": 4, "pageCount": 2
    });
    let bulk = json!([{
        "userId": "u2",
        "presenceDefinition": {"id": "p-break", "systemPresence": "Break"},
        "modifiedDate": "2026-03-02T05:00:00.000Z"
    }]);
    let routing =
        json!({"userId": "u3", "status": "OFF_QUEUE", "startTime": "2026-03-02T04:00:00.000Z"});
    let (c, t, _) = client(vec![ok(page1), ok(bulk), ok(routing)], 300);
    let p = c
        .page(&Selection::All, Cursor::default(), far())
        .await
        .expect("page");
    assert_eq!(p.next, Some(Cursor { part: 0, page: 2 }));
    assert_eq!(p.agents.len(), 3);
    assert_eq!(p.problems.len(), 1, "the user without id is reported");
    assert!(
        p.agents
            .iter()
            .all(|a| a.presence.is_some() && a.routing.is_some())
    );
    assert_eq!(
        p.agents[1]
            .presence
            .as_ref()
            .map(|x| x.system_presence.as_str()),
        Some("Break")
    );
    assert_eq!(
        p.agents[2].routing.as_ref().map(|x| x.status.as_str()),
        Some("OFF_QUEUE")
    );
    let urls: Vec<String> = t.seen().into_iter().map(|s| s.0).collect();
    assert_eq!(
        urls,
        vec![
            "http://127.0.0.1:1/api/v2/users?pageSize=500&pageNumber=1&state=active&expand=presence,routingStatus",
            "http://127.0.0.1:1/api/v2/users/presences/purecloud/bulk?id=u2",
            "http://127.0.0.1:1/api/v2/users/u3/routingstatus",
        ]
    );
}

#[tokio::test]
async fn queue_members_take_presence_in_bulk_calls_of_50() {
    let members: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let id = format!("q{i:03}");
            json!({"id": id, "user": {"id": id},
                   "routingStatus": {"userId": id, "status": "INTERACTING", "startTime": "2026-03-02T06:00:00.000Z"}})
        })
        .collect();
    let bulk = |from: usize| {
        let items: Vec<serde_json::Value> = (from..from + 50)
            .map(|i| {
                json!({"userId": format!("q{i:03}"),
                            "presenceDefinition": {"id": "p-q", "systemPresence": "On Queue"},
                            "modifiedDate": "2026-03-02T06:00:00.000Z"})
            })
            .collect();
        ok(serde_json::Value::Array(items))
    };
    let listing = json!({"entities": members, "pageSize": 100, "pageNumber": 1,
                         "nextUri": "/api/v2/routing/queues/qa/members?pageSize=100&pageNumber=2"});
    let (c, t, _) = client(vec![ok(listing), bulk(0), bulk(50)], 300);
    let sel = Selection::Queues(vec!["qa".to_owned(), "qb".to_owned()]);
    let p = c.page(&sel, Cursor::default(), far()).await.expect("page");
    assert_eq!(p.agents.len(), 100);
    assert_eq!(p.next, Some(Cursor { part: 0, page: 2 }));
    let seen = t.seen();
    assert_eq!(seen.len(), 3, "1 listing + 2 bulk calls for 100 members");
    for (url, _, _) in &seen[1..] {
        let ids = url.split("id=").nth(1).expect("ids").split(',').count();
        assert_eq!(ids, BULK_PRESENCE_LIMIT);
    }

    // The last page of the first queue moves on to the next queue.
    let last = json!({"entities": [], "pageSize": 100, "pageNumber": 2, "nextUri": null});
    let (c, _, _) = client(vec![ok(last)], 300);
    let p = c
        .page(&sel, Cursor { part: 0, page: 2 }, far())
        .await
        .expect("page");
    assert_eq!(p.next, Some(Cursor { part: 1, page: 1 }));
}
