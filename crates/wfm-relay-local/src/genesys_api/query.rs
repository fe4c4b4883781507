//! Query strings and entity listings as the Genesys Cloud Platform API writes them: list
//! parameters comma-joined (the SDK's `ApiClient.to_path_value`) or repeated, `pageSize` /
//! `pageNumber` paging, and listing envelopes (`entities`, `pageSize`, `pageNumber`, `total`,
//! `pageCount`, `firstUri`, `selfUri`, `nextUri`, `previousUri`, `lastUri`; SDK models
//! `UserEntityListing` and `QueueMemberEntityListing`, the latter without totals).

use serde_json::{Value, json};

use super::routes::{ApiResponse, error};

/// Decodes `%XX` escapes and `+` (application/x-www-form-urlencoded); a `%` not followed by
/// two hex digits is kept as is.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query (or form) as decoded pairs, in order.
pub fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Every value of list parameter `name`: repeated and comma-joined forms, empty items dropped.
pub fn list(q: &[(String, String)], name: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The first value of parameter `name`, if present.
pub fn one<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `pageSize` / `pageNumber` with defaults; `Err` is the 400 to answer.
pub fn paging(
    q: &[(String, String)],
    default_size: usize,
    max_size: usize,
) -> Result<(usize, usize), ApiResponse> {
    let num = |name: &str, default: usize| -> Result<usize, ApiResponse> {
        match one(q, name) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                error(
                    400,
                    "bad.request",
                    &format!("{name} must be a positive integer"),
                )
            }),
        }
    };
    let size = num("pageSize", default_size)?;
    if size > max_size {
        return Err(error(
            400,
            "bad.request",
            &format!("pageSize must be at most {max_size}"),
        ));
    }
    Ok((size, num("pageNumber", 1)?))
}

/// The `expand` parameter's parts the stand-in knows (`presence`, `routingStatus`, `groups`,
/// `employerInfo`).
pub fn expand_of(q: &[(String, String)]) -> super::seed::Expand {
    let e = list(q, "expand");
    let has = |n: &str| e.iter().any(|v| v == n);
    super::seed::Expand {
        presence: has("presence"),
        routing_status: has("routingStatus"),
        groups: has("groups"),
        employer_info: has("employerInfo"),
    }
}

/// A page of an entity listing, with the URIs Genesys writes (relative, the query kept).
pub fn listing(
    path: &str,
    entities: Vec<Value>,
    size: usize,
    number: usize,
    total: usize,
    with_totals: bool,
) -> Value {
    let page_count = total.div_ceil(size).max(1);
    let uri = |n: usize| format!("{path}?pageSize={size}&pageNumber={n}");
    let mut v = json!({
        "entities": entities,
        "pageSize": size,
        "pageNumber": number,
        "firstUri": uri(1),
        "selfUri": uri(number),
    });
    if with_totals {
        v["total"] = json!(total);
        v["pageCount"] = json!(page_count);
        v["lastUri"] = json!(uri(page_count));
    }
    if number < page_count {
        v["nextUri"] = json!(uri(number + 1));
    }
    if number > 1 {
        v["previousUri"] = json!(uri(number - 1));
    }
    v
}

/// Page `number` (1-based) of `size` items of `all`; empty past the end.
pub fn page_of<T: Clone>(all: &[T], size: usize, number: usize) -> Vec<T> {
    let start = size.saturating_mul(number - 1).min(all.len());
    let end = start.saturating_add(size).min(all.len());
    all[start..end].to_vec()
}
