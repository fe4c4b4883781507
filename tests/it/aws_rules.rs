//! Self-tests of the AWS-rules layer (`wfm_relay_local::aws_rules`): for each rule, through the
//! real aws-sdk-sqs / aws-sdk-s3 against layer → moto, one call at the limit that the layer passes
//! and one past it that it refuses, with the error the SDK reports. Each test starts its own layer
//! in front of moto (`MOTO_ENDPOINT_URL`, set by `infra/moto.sh`), with a manual clock where the
//! rule is about time, so the 43,200 s limit and handle expiry are checked without waiting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry,
};
use wfm_relay_local::aws_rules::{AwsRules, AwsRulesOptions, Clock, ManualClock};

use crate::support::unique;

/// moto itself, without the layer the suite's `AWS_ENDPOINT_URL` may point at.
fn moto_url() -> String {
    match std::env::var("MOTO_ENDPOINT_URL") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "MOTO_ENDPOINT_URL is not set: run the tests with `infra/test.sh`, which starts moto \
             (and the AWS-rules layer) and sets it."
        ),
    }
}

/// A layer in front of moto and SDK clients that talk to it.
struct Layer {
    _layer: AwsRules,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    clock: Arc<ManualClock>,
}

async fn layer(s3_page_size: usize) -> Layer {
    let clock = Arc::new(ManualClock::starting_now());
    let opts = AwsRulesOptions {
        clock: Arc::clone(&clock) as Arc<dyn Clock>,
        s3_page_size,
    };
    let rules = AwsRules::start(&moto_url(), opts)
        .await
        .expect("start the layer");
    let sqs = sdk_sqs(&rules.url()).await;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(rules.url())
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    Layer {
        _layer: rules,
        sqs,
        s3,
        clock,
    }
}

async fn sdk_sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_sqs::Client::new(&conf)
}

async fn queue(sqs: &aws_sdk_sqs::Client, attrs: &[(QueueAttributeName, &str)]) -> String {
    let mut create = sqs.create_queue().queue_name(unique("rules"));
    for (k, v) in attrs {
        create = create.attributes(k.clone(), *v);
    }
    create
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

/// Receives until `n` distinct messages arrived (each receive with `visibility_s`), or panics at
/// the deadline: never one poll after a sleep.
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    n: usize,
    visibility_s: i32,
) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got: Vec<Message> = Vec::new();
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} messages within 60 s",
            got.len()
        );
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(2)
            .visibility_timeout(visibility_s)
            .send()
            .await
            .expect("receive");
        for m in out.messages.unwrap_or_default() {
            if !got.iter().any(|g| g.message_id == m.message_id) {
                got.push(m);
            }
        }
    }
    got
}

fn handle(m: &Message) -> String {
    m.receipt_handle.clone().expect("receipt handle")
}

fn failed_codes(failed: &[aws_sdk_sqs::types::BatchResultErrorEntry]) -> Vec<(String, String)> {
    failed
        .iter()
        .map(|f| (f.id.clone(), f.code.clone()))
        .collect()
}

#[tokio::test]
async fn character_set_at_and_past_the_limit() {
    let l = layer(1000).await;
    let url = queue(&l.sqs, &[]).await;
    let edges = "\t\n\r \u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}";
    l.sqs
        .send_message()
        .queue_url(&url)
        .message_body(edges)
        .message_attributes(
            "note",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(edges)
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("every edge of the character set is accepted");
    let got = receive(&l.sqs, &url, 1, 30).await;
    assert_eq!(got[0].body.as_deref(), Some(edges));

    for bad in ["Lunch \u{FFFF} back", "\u{FFFE}", "a\u{1}b"] {
        let err = l
            .sqs
            .send_message()
            .queue_url(&url)
            .message_body(bad)
            .send()
            .await
            .expect_err("refused")
            .into_service_error();
        assert!(err.is_invalid_message_contents(), "{err:?}");
        assert_eq!(err.code(), Some("InvalidMessageContents"));
    }
    let err = l
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("fine")
        .message_attributes(
            "note",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("\u{FFFF}")
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect_err("a String attribute is checked too")
        .into_service_error();
    assert!(err.is_invalid_message_contents(), "{err:?}");

    let entry = |id: &str, body: &str| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(body)
            .build()
            .expect("entry")
    };
    let out = l
        .sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("ok", edges))
        .entries(entry("bad", "x\u{FFFF}"))
        .send()
        .await
        .expect("a batch answers per entry");
    let ok: Vec<_> = out.successful.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ok, vec!["ok".to_owned()]);
    assert_eq!(
        failed_codes(&out.failed),
        vec![("bad".to_owned(), "InvalidMessageContents".to_owned())]
    );
    assert!(out.failed[0].sender_fault);
}

#[tokio::test]
async fn message_size_counts_utf8_bytes_and_attributes() {
    let l = layer(1000).await;
    let url = queue(&l.sqs, &[(QueueAttributeName::MaximumMessageSize, "1024")]).await;
    let send = |body: String, attr: Option<String>| {
        let mut req = l.sqs.send_message().queue_url(&url).message_body(body);
        if let Some(v) = attr {
            req = req.message_attributes(
                "k",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(v)
                    .build()
                    .expect("attribute"),
            );
        }
        req.send()
    };
    send("é".repeat(512), None).await.expect("1,024 bytes");
    // 513 characters: moto alone accepts it (it counts characters); AWS counts 1,026 bytes.
    let err = send("é".repeat(513), None)
        .await
        .expect_err("1,026 bytes")
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");
    // 1,000 body bytes + "k" (1) + "String" (6) + the value.
    send("a".repeat(1000), Some("v".repeat(17)))
        .await
        .expect("1,024 bytes with the attribute");
    let err = send("a".repeat(1000), Some("v".repeat(18)))
        .await
        .expect_err("1,025 bytes with the attribute")
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");

    let out = l
        .sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("fits")
                .message_body("a".repeat(1024))
                .build()
                .expect("entry"),
        )
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("long")
                .message_body("a".repeat(1025))
                .build()
                .expect("entry"),
        )
        .send()
        .await
        .expect("a batch answers per entry");
    assert_eq!(out.successful.len(), 1);
    assert_eq!(out.successful[0].id, "fits");
    assert_eq!(
        failed_codes(&out.failed),
        vec![("long".to_owned(), "InvalidParameterValue".to_owned())]
    );
}

#[tokio::test]
async fn send_message_batch_takes_10_entries_and_1_mib() {
    let l = layer(1000).await;
    let url = queue(&l.sqs, &[]).await;
    let batch = |sizes: &[usize]| {
        let mut req = l.sqs.send_message_batch().queue_url(&url);
        for (i, n) in sizes.iter().enumerate() {
            req = req.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body("b".repeat(*n))
                    .build()
                    .expect("entry"),
            );
        }
        req.send()
    };
    let out = batch(&[10; 10]).await.expect("10 entries");
    assert_eq!(out.successful.len(), 10);
    let err = batch(&[10; 11])
        .await
        .expect_err("11 entries")
        .into_service_error();
    assert!(err.is_too_many_entries_in_batch_request(), "{err:?}");

    let mut sizes = vec![104_858; 9];
    sizes.push(1_048_576 - 9 * 104_858);
    let out = batch(&sizes).await.expect("1,048,576 bytes in total");
    assert_eq!(out.successful.len(), 10);
    assert!(out.failed.is_empty());
    sizes[9] += 1;
    let err = batch(&sizes)
        .await
        .expect_err("1,048,577 bytes in total")
        .into_service_error();
    assert!(err.is_batch_request_too_long(), "{err:?}");
}

#[tokio::test]
async fn delay_seconds_0_to_900() {
    let l = layer(1000).await;
    let url = queue(&l.sqs, &[]).await;
    l.sqs
        .send_message()
        .queue_url(&url)
        .message_body("late")
        .delay_seconds(900)
        .send()
        .await
        .expect("900 s");
    let err = l
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("too late")
        .delay_seconds(901)
        .send()
        .await
        .expect_err("901 s")
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");
    let out = l
        .sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("at")
                .message_body("x")
                .delay_seconds(900)
                .build()
                .expect("entry"),
        )
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("past")
                .message_body("x")
                .delay_seconds(901)
                .build()
                .expect("entry"),
        )
        .send()
        .await
        .expect("a batch answers per entry");
    assert_eq!(out.successful.len(), 1);
    assert_eq!(out.successful[0].id, "at");
    assert_eq!(
        failed_codes(&out.failed),
        vec![("past".to_owned(), "InvalidParameterValue".to_owned())]
    );
}

#[tokio::test]
async fn visibility_counts_43200_s_from_the_receive() {
    let l = layer(1000).await;
    let url = queue(&l.sqs, &[]).await;
    l.sqs
        .send_message()
        .queue_url(&url)
        .message_body("delayed")
        .delay_seconds(15)
        .send()
        .await
        .expect("send");
    let m = receive(&l.sqs, &url, 1, 30).await.remove(0);
    let h = handle(&m);
    let change = |secs: i32| {
        l.sqs
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(&h)
            .visibility_timeout(secs)
            .send()
    };
    change(43_200)
        .await
        .expect("43,200 s right after the receive");
    // moto alone refuses the same call: it counts from the send, 15 s before the receive.
    let moto = sdk_sqs(&moto_url()).await;
    let err = moto
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&h)
        .visibility_timeout(43_200)
        .send()
        .await
        .expect_err("moto counts from the send")
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");

    l.clock.advance(Duration::from_secs(1));
    let err = change(43_200)
        .await
        .expect_err("43,201 s in total")
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");
    assert!(
        err.message().unwrap_or("").contains("beyond the limit"),
        "{err:?}"
    );
    change(43_199).await.expect("1 s + 43,199 s");

    l.clock.advance(Duration::from_secs(42_999));
    change(200).await.expect("43,000 s + 200 s");
    let err = change(201)
        .await
        .expect_err("43,000 s + 201 s")
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");
    let entry = |id: &str, secs: i32| {
        ChangeMessageVisibilityBatchRequestEntry::builder()
            .id(id)
            .receipt_handle(&h)
            .visibility_timeout(secs)
            .build()
            .expect("entry")
    };
    let out = l
        .sqs
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(entry("at", 200))
        .entries(entry("past", 201))
        .send()
        .await
        .expect("a batch answers per entry");
    assert_eq!(out.successful.len(), 1);
    assert_eq!(out.successful[0].id, "at");
    assert_eq!(
        failed_codes(&out.failed),
        vec![("past".to_owned(), "InvalidParameterValue".to_owned())]
    );
}

#[tokio::test]
async fn receipt_handles_expire_with_the_visibility_timeout() {
    let l = layer(1000).await;
    let url = queue(&l.sqs, &[]).await;
    for i in 0..3 {
        l.sqs
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .expect("send");
    }
    let got = receive(&l.sqs, &url, 3, 10).await;
    let (a, b, c) = (handle(&got[0]), handle(&got[1]), handle(&got[2]));

    l.clock.advance(Duration::from_millis(9_999));
    l.sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(&a)
        .send()
        .await
        .expect("1 ms before the visibility runs out");
    l.sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&b)
        .visibility_timeout(5)
        .send()
        .await
        .expect("extended before it ran out");

    l.clock.advance(Duration::from_millis(1));
    let err = l
        .sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(&c)
        .send()
        .await
        .expect_err("the visibility ran out")
        .into_service_error();
    assert!(err.is_receipt_handle_is_invalid(), "{err:?}");
    let err = l
        .sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&c)
        .visibility_timeout(5)
        .send()
        .await
        .expect_err("the visibility ran out")
        .into_service_error();
    assert!(err.is_receipt_handle_is_invalid(), "{err:?}");

    let out = l
        .sqs
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("b")
                .receipt_handle(&b)
                .visibility_timeout(5)
                .build()
                .expect("entry"),
        )
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("c")
                .receipt_handle(&c)
                .visibility_timeout(5)
                .build()
                .expect("entry"),
        )
        .send()
        .await
        .expect("a batch answers per entry");
    assert_eq!(out.successful.len(), 1);
    assert_eq!(out.successful[0].id, "b");
    assert_eq!(
        failed_codes(&out.failed),
        vec![("c".to_owned(), "ReceiptHandleIsInvalid".to_owned())]
    );

    let entry = |id: &str, h: &str| {
        DeleteMessageBatchRequestEntry::builder()
            .id(id)
            .receipt_handle(h)
            .build()
            .expect("entry")
    };
    let out = l
        .sqs
        .delete_message_batch()
        .queue_url(&url)
        .entries(entry("b", &b))
        .entries(entry("c", &c))
        .send()
        .await
        .expect("a batch answers per entry");
    assert_eq!(out.successful.len(), 1);
    assert_eq!(out.successful[0].id, "b");
    assert_eq!(
        failed_codes(&out.failed),
        vec![("c".to_owned(), "ReceiptHandleIsInvalid".to_owned())]
    );
}

#[tokio::test]
async fn list_objects_v2_pages_of_the_configured_size() {
    let l = layer(7).await;
    let bucket = unique("rules");
    l.s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    let mut keys: Vec<String> = (0..16).map(|i| format!("k/{i:02}")).collect();
    keys.extend((0..7).map(|i| format!("seven/{i}")));
    for key in &keys {
        l.s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .expect("put");
    }

    // Exactly one page: 7 keys.
    let out =
        l.s3.list_objects_v2()
            .bucket(&bucket)
            .prefix("seven/")
            .send()
            .await
            .expect("list");
    assert_eq!(out.contents().len(), 7);
    assert_eq!(out.is_truncated, Some(false));
    assert_eq!(out.next_continuation_token, None);

    // 16 keys: pages of 7, 7 and 2, tokens with '+', '/' and '='.
    let (mut listed, mut pages, mut token) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let out =
            l.s3.list_objects_v2()
                .bucket(&bucket)
                .prefix("k/")
                .set_continuation_token(token.clone())
                .send()
                .await
                .expect("list");
        pages.push(out.contents().len());
        listed.extend(out.contents().iter().filter_map(|o| o.key.clone()));
        match out.next_continuation_token {
            Some(t) => {
                assert!(t.contains('+') && t.contains('/') && t.contains('='), "{t}");
                assert_eq!(out.is_truncated, Some(true));
                token = Some(t);
            }
            None => break,
        }
    }
    assert_eq!(pages, vec![7, 7, 2]);
    assert_eq!(listed, keys[..16].to_vec());

    let out =
        l.s3.list_objects_v2()
            .bucket(&bucket)
            .prefix("k/")
            .start_after("k/13")
            .send()
            .await
            .expect("list");
    let after: Vec<_> = out
        .contents()
        .iter()
        .filter_map(|o| o.key.clone())
        .collect();
    assert_eq!(after, vec!["k/14".to_owned(), "k/15".to_owned()]);

    let err =
        l.s3.list_objects_v2()
            .bucket(&bucket)
            .continuation_token("k/07")
            .send()
            .await
            .expect_err("a token the layer did not issue")
            .into_service_error();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
        Some("InvalidArgument")
    );
}

#[tokio::test]
async fn the_suite_endpoint_is_the_layer_unless_switched_off() {
    let endpoint = crate::support::endpoint();
    let sqs = sdk_sqs(&endpoint).await;
    let url = queue(&sqs, &[]).await;
    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("\u{FFFF}")
        .send()
        .await;
    if std::env::var("AWS_RULES").as_deref() == Ok("off") {
        assert_eq!(endpoint, moto_url());
        sent.expect("moto alone accepts U+FFFF");
    } else {
        assert_ne!(
            endpoint,
            moto_url(),
            "AWS_ENDPOINT_URL should be the AWS-rules layer"
        );
        let err = sent
            .expect_err("the layer refuses U+FFFF")
            .into_service_error();
        assert!(err.is_invalid_message_contents(), "{err:?}");
    }
}
