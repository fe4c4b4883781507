//! The agents of a snapshot, page by page, with presence and routing status read in the fewest
//! calls the API allows.
//!
//! - [`Selection::All`]: `GET /api/v2/users?state=active&expand=presence,routingStatus`, pages
//!   of [`USERS_PAGE_SIZE`]: one call per page gives everything.
//! - [`Selection::Users`]: the same endpoint with `id=<ids>` (pages of 100 ids).
//! - [`Selection::Divisions`]: the pages of `All`, kept to the users whose `division.id` is
//!   one of the divisions (`divisions.rs`: no extra call; why not `POST /api/v2/users/search`).
//! - [`Selection::Groups`]: `GET /api/v2/groups/{id}/members?expand=presence,routingStatus`.
//! - [`Selection::Queues`]: `GET /api/v2/routing/queues/{id}/members` (pages of
//!   [`QUEUE_PAGE_SIZE`], each member with its `routingStatus`), then bulk presence for the
//!   page's ids ([`BULK_PRESENCE_LIMIT`] a call).
//!
//! A user whose `expand` came back without a part (the API resolves `expand` "with a best
//! effort approach") gets it read separately: bulk presence for missing presences, one
//! `routingstatus` call for each missing routing status.

use super::divisions::in_divisions;
use super::{GenesysClient, GenesysError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Instant, SystemTime};
use wfm_relay_core::snapshot::{AgentState, Presence, Routing, SnapshotError};

/// Users per page of `GET /api/v2/users` and group members: 500 (the endpoint's maximum).
pub const USERS_PAGE_SIZE: usize = 500;

/// Members per page of `GET /api/v2/routing/queues/{id}/members`: 100 ("Max value is 100").
pub const QUEUE_PAGE_SIZE: usize = 100;

/// Most ids one bulk presence call may carry: 50 ("Limit 50", the SDK's `PresenceApi`).
pub const BULK_PRESENCE_LIMIT: usize = 50;

/// Ids per page of `GET /api/v2/users?id=…` (a [`Selection::Users`] page).
const IDS_PER_PAGE: usize = 100;

/// Which agents a snapshot covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "ids")]
pub enum Selection {
    /// Every active user.
    All,
    /// These user ids.
    Users(Vec<String>),
    /// Members of these groups.
    Groups(Vec<String>),
    /// Members of these queues.
    Queues(Vec<String>),
    /// Active users of these divisions (`division.id`), read from the pages of [`Self::All`].
    Divisions(Vec<String>),
}

/// Where the next page starts: the index of the group / queue / id chunk in the selection
/// (0 for `All`) and the 1-based page number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Index of the group, queue or id chunk.
    pub part: usize,
    /// 1-based page number within it.
    pub page: usize,
}

impl Default for Cursor {
    fn default() -> Self {
        Cursor { part: 0, page: 1 }
    }
}

/// One page of agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The agents read, in the API's order.
    pub agents: Vec<AgentState>,
    /// Users whose answer could not be read (one sentence each, naming user and field).
    pub problems: Vec<SnapshotError>,
    /// When the page's states were read (the answer's arrival).
    pub read_at: SystemTime,
    /// The next page, or `None` when this was the last.
    pub next: Option<Cursor>,
}

pub(super) fn has_more(listing: &Value, page: usize, size: usize, got: usize) -> bool {
    if let Some(count) = listing.get("pageCount").and_then(Value::as_u64) {
        return (page as u64) < count;
    }
    if let Some(next) = listing.get("nextUri") {
        return next.as_str().is_some_and(|s| !s.is_empty());
    }
    got >= size
}

pub(super) fn entities(listing: &Value) -> &[Value] {
    listing
        .get("entities")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

impl GenesysClient {
    /// The org id: `GET /api/v2/organizations/me` → `id`.
    ///
    /// # Errors
    /// The call's [`GenesysError`], or [`GenesysError::BadAnswer`] when `id` is missing.
    pub async fn org_id(&self, until: Instant) -> Result<String, GenesysError> {
        let path = "/api/v2/organizations/me";
        let v = self.get_json(path, until).await?;
        v.get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| GenesysError::BadAnswer {
                path: path.to_owned(),
                message: "no `id`".to_owned(),
            })
    }

    /// The page of `selection` at `cursor`, with every agent's presence and routing status.
    ///
    /// # Errors
    /// The first call's [`GenesysError`]; nothing of the page is returned then (the caller
    /// continues from the same cursor).
    pub async fn page(
        &self,
        selection: &Selection,
        cursor: Cursor,
        until: Instant,
    ) -> Result<Page, GenesysError> {
        let expand = "expand=presence,routingStatus";
        let Cursor { part, page } = cursor;
        let (listing, size, parts, queue) = match selection {
            Selection::All | Selection::Divisions(_) => {
                let q = format!(
                    "/api/v2/users?pageSize={USERS_PAGE_SIZE}&pageNumber={page}&state=active&{expand}"
                );
                (self.get_json(&q, until).await?, USERS_PAGE_SIZE, 1, false)
            }
            Selection::Users(ids) => {
                let chunks: Vec<&[String]> = ids.chunks(IDS_PER_PAGE).collect();
                let Some(chunk) = chunks.get(part) else {
                    return Ok(empty_page());
                };
                let q = format!(
                    "/api/v2/users?pageSize={IDS_PER_PAGE}&pageNumber=1&id={}&{expand}",
                    chunk.join(",")
                );
                // One page per chunk.
                let v = self.get_json(&q, until).await?;
                (v, usize::MAX, chunks.len(), false)
            }
            Selection::Groups(ids) => {
                let Some(g) = ids.get(part) else {
                    return Ok(empty_page());
                };
                let q = format!(
                    "/api/v2/groups/{g}/members?pageSize={USERS_PAGE_SIZE}&pageNumber={page}&{expand}"
                );
                (
                    self.get_json(&q, until).await?,
                    USERS_PAGE_SIZE,
                    ids.len(),
                    false,
                )
            }
            Selection::Queues(ids) => {
                let Some(qid) = ids.get(part) else {
                    return Ok(empty_page());
                };
                let q = format!(
                    "/api/v2/routing/queues/{qid}/members?pageSize={QUEUE_PAGE_SIZE}&pageNumber={page}"
                );
                (
                    self.get_json(&q, until).await?,
                    QUEUE_PAGE_SIZE,
                    ids.len(),
                    true,
                )
            }
        };
        let read_at = SystemTime::now();
        let list = entities(&listing);
        let more = size != usize::MAX && has_more(&listing, page, size, list.len());
        let (kept, mut off_division) = match selection {
            Selection::Divisions(ids) => {
                let (kept, problems) = in_divisions(list, ids);
                (Some(kept), problems)
            }
            _ => (None, Vec::new()),
        };
        let list = kept.as_deref().unwrap_or(list);
        let next = if more {
            Some(Cursor {
                part,
                page: page + 1,
            })
        } else if part + 1 < parts {
            Some(Cursor {
                part: part + 1,
                page: 1,
            })
        } else {
            None
        };
        let (mut agents, mut problems) = if queue {
            read_queue_members(list)
        } else {
            read_users(list)
        };
        problems.append(&mut off_division);
        self.fill_missing(&mut agents, until).await?;
        Ok(Page {
            agents,
            problems,
            read_at,
            next,
        })
    }

    /// Reads the parts `expand` (or a queue listing) left out: bulk presence in calls of
    /// [`BULK_PRESENCE_LIMIT`] ids, routing status one user at a time.
    async fn fill_missing(
        &self,
        agents: &mut [AgentState],
        until: Instant,
    ) -> Result<(), GenesysError> {
        let missing: Vec<String> = agents
            .iter()
            .filter(|a| a.presence.is_none())
            .map(|a| a.user_id.clone())
            .collect();
        let mut presences: HashMap<String, Presence> = HashMap::new();
        for chunk in missing.chunks(BULK_PRESENCE_LIMIT) {
            let q = format!(
                "/api/v2/users/presences/purecloud/bulk?id={}",
                chunk.join(",")
            );
            let v = self.get_json(&q, until).await?;
            for p in v.as_array().map(Vec::as_slice).unwrap_or_default() {
                let Some(id) = p.get("userId").and_then(Value::as_str) else {
                    continue;
                };
                match Presence::from_api(p, id) {
                    Ok(pr) => {
                        presences.insert(id.to_owned(), pr);
                    }
                    Err(e) => tracing::warn!(error = %e, "bulk presence unreadable"),
                }
            }
        }
        for a in agents.iter_mut() {
            if a.presence.is_none() {
                a.presence = presences.remove(&a.user_id);
            }
            if a.routing.is_none() {
                let q = format!("/api/v2/users/{}/routingstatus", a.user_id);
                let v = self.get_json(&q, until).await?;
                match Routing::from_api(&v, &a.user_id) {
                    Ok(r) => a.routing = Some(r),
                    Err(e) => tracing::warn!(error = %e, "routing status unreadable"),
                }
            }
        }
        Ok(())
    }
}

fn empty_page() -> Page {
    Page {
        agents: Vec::new(),
        problems: Vec::new(),
        read_at: SystemTime::now(),
        next: None,
    }
}

fn read_users(list: &[Value]) -> (Vec<AgentState>, Vec<SnapshotError>) {
    let mut agents = Vec::with_capacity(list.len());
    let mut problems = Vec::new();
    for u in list {
        match AgentState::from_api_user(u) {
            Ok(a) => agents.push(a),
            Err(e) => problems.push(e),
        }
    }
    (agents, problems)
}

/// `QueueMember`s: the user id is `id` (or `user.id`), the routing status is the member's.
fn read_queue_members(list: &[Value]) -> (Vec<AgentState>, Vec<SnapshotError>) {
    let users: Vec<Value> = list
        .iter()
        .map(|m| {
            let id = m
                .get("id")
                .or_else(|| m.pointer("/user/id"))
                .cloned()
                .unwrap_or(Value::Null);
            serde_json::json!({
                "id": id,
                "routingStatus": m.get("routingStatus").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    read_users(&users)
}
