//! The shipped `template.yaml`, checked offline: the C06 consumer settings, the alarms, the
//! dashboard and IAM, over a small CloudFormation reader (`cfn`).

mod alarms;
mod c06;
mod cfn;
mod dashboard;
mod deploy;
mod iam;
mod snapshot;
