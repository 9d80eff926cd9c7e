//! [`Route53Api`](super::Route53Api) over `aws-sdk-route53`.
