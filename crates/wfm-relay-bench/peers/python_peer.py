"""A Python peer for the cold-start benchmark (wfm-relay-bench --cmd): what a Python Lambda doing
the forwarder's job does before its first Runtime API poll -- read the configuration, import
boto3 and build the SQS and S3 clients, build an HTTP client for WFM -- then poll
GET /2018-06-01/runtime/invocation/next like a custom runtime (the AWS Lambda Runtime API,
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html). It handles no invocation: the
benchmark only times spawn -> first poll.
"""
import os
import urllib.request

import boto3

config = {k: os.environ[k] for k in ("WFM_URL", "RETRY_QUEUE_URL", "DLQ_URL")}
session = boto3.session.Session()
sqs = session.client("sqs")
s3 = session.client("s3")
wfm = urllib.request.build_opener()

api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    with urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next") as r:
        r.read()
