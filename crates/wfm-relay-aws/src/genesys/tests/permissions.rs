//! The permission each API path needs, and a 403 that stops at once naming it.

use super::super::*;
use super::*;

#[tokio::test]
async fn a_403_stops_at_once() {
    let (c, _, _) = client(vec![status(403, None)], 300);
    let e = c
        .get_json("/api/v2/users/presences/purecloud/bulk?id=a", far())
        .await
        .expect_err("stop");
    assert!(e.to_string().contains("presence:userPresence:view"), "{e}");
    assert_eq!(c.stats().calls, 1);
}

#[test]
fn permissions_by_path() {
    for (path, perm) in [
        ("/api/v2/users", "directory:user:view"),
        (
            "/api/v2/users/presences/purecloud/bulk",
            "presence:userPresence:view",
        ),
        ("/api/v2/users/u1/routingstatus", "routing:agent:view"),
        ("/api/v2/groups/g/members", "directory:group:view"),
        (
            "/api/v2/routing/queues/q/members",
            "routing:queueMember:view",
        ),
    ] {
        assert_eq!(permission_for(path), perm, "{path}");
    }
}
