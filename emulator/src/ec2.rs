//! Pure: EC2's DescribeInstances as the daemon's clean-up of gone instances calls it (Query API, version
//! 2016-11-15): the request's form parsed, the instances a test declares filtered by `private-ip-address`,
//! `instance-id` and `instance-state-name` (values OR-ed within a filter, filters AND-ed) and paged by
//! `NextToken`, and the XML of the answer and of EC2's errors.
//!
//! [`crate::Emulator`] keeps the instances, EC2's own faults and request log; the server answers `POST /`.

use std::collections::BTreeMap;

use quick_xml::escape::escape;

/// One filter's name and numbered values, as the form's keys give them.
type FilterParts = (Option<String>, Vec<(u32, String)>);

/// The namespace of EC2's 2016-11-15 answers.
pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// Values one filter may carry.
pub const MAX_FILTER_VALUES: usize = 200;

/// `MaxResults`' range; without it, every instance in one page.
pub const MAX_RESULTS: std::ops::RangeInclusive<usize> = 5..=1000;

/// An instance a test declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ec2Instance {
    pub id: String,
    pub private_ip: Option<String>,
    /// `pending`, `running`, `shutting-down`, `terminated`, `stopping` or `stopped`.
    pub state: String,
}

/// A DescribeInstances request, as its form says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeRequest {
    /// (name, values), in the order of their numbers.
    pub filters: Vec<(String, Vec<String>)>,
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

/// An EC2 error answer: its code, message and HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ec2ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Ec2ApiError {
    fn invalid(message: impl Into<String>) -> Self {
        Ec2ApiError {
            status: 400,
            code: "InvalidParameterValue".into(),
            message: message.into(),
        }
    }
}

/// The request in a form body's pairs (`Action=DescribeInstances&Filter.1.Name=…&Filter.1.Value.1=…`).
pub fn parse_form(pairs: &[(String, String)]) -> Result<DescribeRequest, Ec2ApiError> {
    let action = pairs
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.as_str());
    if action != Some("DescribeInstances") {
        return Err(Ec2ApiError {
            status: 400,
            code: "InvalidAction".into(),
            message: format!(
                "The action {} is not valid for this web service.",
                action.unwrap_or("")
            ),
        });
    }
    let mut filters: BTreeMap<u32, FilterParts> = BTreeMap::new();
    let mut request = DescribeRequest::default();
    for (key, value) in pairs {
        let parts: Vec<&str> = key.split('.').collect();
        match parts.as_slice() {
            ["Filter", n, "Name"] => {
                filters.entry(number(n, key)?).or_default().0 = Some(value.clone());
            }
            ["Filter", n, "Value", m] => {
                let m = number(m, key)?;
                filters
                    .entry(number(n, key)?)
                    .or_default()
                    .1
                    .push((m, value.clone()));
            }
            ["MaxResults"] => {
                let n: usize = value.parse().map_err(|_| {
                    Ec2ApiError::invalid(format!("Invalid value '{value}' for MaxResults"))
                })?;
                if !MAX_RESULTS.contains(&n) {
                    return Err(Ec2ApiError::invalid(format!(
                        "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000."
                    )));
                }
                request.max_results = Some(n);
            }
            ["NextToken"] => request.next_token = Some(value.clone()),
            ["Action"] | ["Version"] => {}
            _ => {
                return Err(Ec2ApiError {
                    status: 400,
                    code: "UnknownParameter".into(),
                    message: format!("The parameter {key} is not recognized"),
                })
            }
        }
    }
    for (n, (name, mut values)) in filters {
        let name = name.ok_or_else(|| Ec2ApiError::invalid(format!("Filter.{n} has no Name")))?;
        values.sort();
        request
            .filters
            .push((name, values.into_iter().map(|(_, v)| v).collect()));
    }
    Ok(request)
}

fn number(text: &str, key: &str) -> Result<u32, Ec2ApiError> {
    text.parse()
        .map_err(|_| Ec2ApiError::invalid(format!("Invalid parameter {key}")))
}

/// One page of the declared `instances` that the request's filters select, and the token of the next.
pub fn describe(
    instances: &[Ec2Instance],
    request: &DescribeRequest,
) -> Result<(Vec<Ec2Instance>, Option<String>), Ec2ApiError> {
    for (name, values) in &request.filters {
        if values.len() > MAX_FILTER_VALUES {
            return Err(Ec2ApiError {
                status: 400,
                code: "FilterLimitExceeded".into(),
                message: format!(
                    "The maximum number of filter values specified on a single call is {MAX_FILTER_VALUES}"
                ),
            });
        }
        if !matches!(
            name.as_str(),
            "private-ip-address" | "instance-id" | "instance-state-name"
        ) {
            return Err(Ec2ApiError::invalid(format!(
                "The filter '{name}' is invalid"
            )));
        }
    }
    let selected: Vec<&Ec2Instance> = instances
        .iter()
        .filter(|i| {
            request.filters.iter().all(|(name, values)| {
                let field = match name.as_str() {
                    "private-ip-address" => i.private_ip.as_deref(),
                    "instance-id" => Some(i.id.as_str()),
                    _ => Some(i.state.as_str()),
                };
                field.is_some_and(|f| values.iter().any(|v| v == f))
            })
        })
        .collect();
    let start = match &request.next_token {
        None => 0,
        Some(token) => token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= selected.len())
            .ok_or_else(|| Ec2ApiError::invalid(format!("The token '{token}' is invalid")))?,
    };
    let size = request.max_results.unwrap_or(usize::MAX);
    let end = start.saturating_add(size).min(selected.len());
    let page = selected[start..end].iter().map(|i| (*i).clone()).collect();
    let next = (end < selected.len()).then(|| format!("page-{end}"));
    Ok((page, next))
}

/// The state's code, as EC2 numbers them.
fn state_code(state: &str) -> u16 {
    match state {
        "pending" => 0,
        "running" => 16,
        "shutting-down" => 32,
        "terminated" => 48,
        "stopping" => 64,
        "stopped" => 80,
        _ => 0,
    }
}

/// The answer: one reservation per instance, as EC2 does for instances launched one at a time.
pub fn describe_xml(page: &[Ec2Instance], next: Option<&str>, request_id: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse xmlns=\"{NAMESPACE}\">\
         <requestId>{}</requestId><reservationSet>",
        escape(request_id)
    );
    for (n, instance) in page.iter().enumerate() {
        out.push_str(&format!(
            "<item><reservationId>r-{n:017x}</reservationId><ownerId>123456789012</ownerId><groupSet/>\
             <instancesSet><item><instanceId>{}</instanceId><instanceState><code>{}</code><name>{}</name>\
             </instanceState>",
            escape(&instance.id),
            state_code(&instance.state),
            escape(&instance.state)
        ));
        if let Some(ip) = &instance.private_ip {
            out.push_str(&format!(
                "<privateIpAddress>{}</privateIpAddress>",
                escape(ip)
            ));
        }
        out.push_str("</item></instancesSet></item>");
    }
    out.push_str("</reservationSet>");
    if let Some(next) = next {
        out.push_str(&format!("<nextToken>{}</nextToken>", escape(next)));
    }
    out.push_str("</DescribeInstancesResponse>");
    out
}

/// EC2's error body: `<Response><Errors><Error><Code>…`.
pub fn error_xml(error: &Ec2ApiError, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message>\
         </Error></Errors><RequestID>{}</RequestID></Response>",
        escape(&error.code),
        escape(&error.message),
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn fleet() -> Vec<Ec2Instance> {
        let one = |id: &str, ip: &str, state: &str| Ec2Instance {
            id: id.into(),
            private_ip: Some(ip.into()),
            state: state.into(),
        };
        vec![
            one("i-00000001", "10.0.0.1", "running"),
            one("i-00000002", "10.0.0.2", "terminated"),
            one("i-00000003", "10.0.0.3", "running"),
            Ec2Instance {
                private_ip: None,
                ..one("i-00000004", "", "terminated")
            },
        ]
    }

    #[test]
    fn the_form_of_a_describe_instances() {
        let request = parse_form(&pairs(&[
            ("Action", "DescribeInstances"),
            ("Version", "2016-11-15"),
            ("Filter.2.Name", "instance-state-name"),
            ("Filter.2.Value.1", "running"),
            ("Filter.1.Name", "private-ip-address"),
            ("Filter.1.Value.2", "10.0.0.3"),
            ("Filter.1.Value.1", "10.0.0.1"),
            ("MaxResults", "5"),
            ("NextToken", "page-5"),
        ]))
        .unwrap();
        assert_eq!(
            request,
            DescribeRequest {
                filters: vec![
                    (
                        "private-ip-address".into(),
                        vec!["10.0.0.1".into(), "10.0.0.3".into()]
                    ),
                    ("instance-state-name".into(), vec!["running".into()]),
                ],
                max_results: Some(5),
                next_token: Some("page-5".into()),
            }
        );
        let refused = |list: &[(&str, &str)]| parse_form(&pairs(list)).unwrap_err().code;
        assert_eq!(refused(&[("Action", "RunInstances")]), "InvalidAction");
        assert_eq!(
            refused(&[("Action", "DescribeInstances"), ("MaxResults", "4")]),
            "InvalidParameterValue"
        );
        assert_eq!(
            refused(&[("Action", "DescribeInstances"), ("Filter.1.Value.1", "x")]),
            "InvalidParameterValue"
        );
        assert_eq!(
            refused(&[("Action", "DescribeInstances"), ("InstanceId.1", "i-1")]),
            "UnknownParameter"
        );
    }

    #[test]
    fn filters_select_and_pages_follow_one_another() {
        let by = |filters: Vec<(&str, Vec<&str>)>, max: Option<usize>| DescribeRequest {
            filters: filters
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.into_iter().map(str::to_string).collect()))
                .collect(),
            max_results: max,
            next_token: None,
        };
        let ids = |page: &[Ec2Instance]| page.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
        let (page, next) = describe(
            &fleet(),
            &by(
                vec![(
                    "private-ip-address",
                    vec!["10.0.0.2", "10.0.0.3", "10.9.9.9"],
                )],
                None,
            ),
        )
        .unwrap();
        assert_eq!(
            (ids(&page), next),
            (vec!["i-00000002".into(), "i-00000003".into()], None)
        );
        let (page, _) = describe(
            &fleet(),
            &by(
                vec![
                    ("instance-id", vec!["i-00000001", "i-00000002"]),
                    ("instance-state-name", vec!["running"]),
                ],
                None,
            ),
        )
        .unwrap();
        assert_eq!(ids(&page), vec!["i-00000001".to_string()], "filters AND-ed");
        // Paging (pages of at least 5, by EC2's rule): 6 instances are a page of 5, then one of 1.
        let mut six = fleet();
        six.extend(fleet().into_iter().map(|i| Ec2Instance {
            id: format!("{}b", i.id),
            ..i
        }));
        six.truncate(6);
        let mut request = by(vec![], Some(5));
        let (first, next) = describe(&six, &request).unwrap();
        assert_eq!((first.len(), next.as_deref()), (5, Some("page-5")));
        request.next_token = next;
        let (second, next) = describe(&six, &request).unwrap();
        assert_eq!((second.len(), next), (1, None));
        request.next_token = Some("garbage".into());
        assert_eq!(
            describe(&six, &request).unwrap_err().code,
            "InvalidParameterValue"
        );
        let many: Vec<&str> = vec!["10.0.0.1"; 201];
        assert_eq!(
            describe(&fleet(), &by(vec![("private-ip-address", many)], None))
                .unwrap_err()
                .code,
            "FilterLimitExceeded"
        );
        assert_eq!(
            describe(&fleet(), &by(vec![("tag:Name", vec!["x"])], None))
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn answers_in_ec2s_xml() {
        let xml = describe_xml(&fleet()[..2], Some("page-2"), "req-1");
        for part in [
            "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">",
            "<instanceId>i-00000001</instanceId><instanceState><code>16</code><name>running</name>",
            "<instanceState><code>48</code><name>terminated</name></instanceState><privateIpAddress>10.0.0.2</privateIpAddress>",
            "<nextToken>page-2</nextToken>",
        ] {
            assert!(xml.contains(part), "{part} in {xml}");
        }
        let error = error_xml(
            &Ec2ApiError {
                status: 503,
                code: "RequestLimitExceeded".into(),
                message: "Request limit exceeded.".into(),
            },
            "req-2",
        );
        assert!(error.contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>req-2</RequestID></Response>"));
    }
}
