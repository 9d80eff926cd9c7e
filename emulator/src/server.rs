//! The REST XML server: Route53's 2013-04-01 paths over actix-web, each handler a thin shell that parses the
//! request, sends it through [`Emulator::call`] (faults, throttle, log) and writes Route53's XML answer.
//!
//! | operation | method and path |
//! |---|---|
//! | GetHostedZone | `GET /2013-04-01/hostedzone/{Id}` |
//! | ListHostedZones | `GET /2013-04-01/hostedzone?marker&maxitems` |
//! | ListHostedZonesByName | `GET /2013-04-01/hostedzonesbyname?dnsname&hostedzoneid&maxitems` |
//! | CreateHostedZone | `POST /2013-04-01/hostedzone` (201, `Location`) |
//! | ListResourceRecordSets | `GET /2013-04-01/hostedzone/{Id}/rrset?name&type&identifier&maxitems` |
//! | ChangeResourceRecordSets | `POST /2013-04-01/hostedzone/{Id}/rrset/` (the SDKs send the trailing slash; both are served) |
//! | GetChange | `GET /2013-04-01/change/{Id}` |
//! | (unofficial) | `GET /_emulator/records`: every zone's record sets, one per line, plain text |
//! | EC2 DescribeInstances | `POST /` with the Query API's form (`Action=DescribeInstances&Filter.1.Name=…`) |

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use rand::Rng;
use route53_registrator::route53::RecordPosition;

use crate::ec2::{self, Ec2ApiError};
use crate::emulator::{
    bare_change_id, bare_zone_id, ApiError, Ec2Failure, Emulator, Failure, NewZone, Operation,
};
use crate::rules::MAX_PAGE_ITEMS;
use crate::xml;

/// ListHostedZones' page size when `maxitems` is absent, and its ceiling.
const MAX_ZONES_PER_PAGE: usize = 100;
/// Big enough for a batch of 1000 changes.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A running server; it stops when dropped.
pub struct ServerHandle {
    address: SocketAddr,
    server: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// `http://127.0.0.1:PORT`, for the SDK's `endpoint_url` or `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for it, which the thread's exit does too.
        drop(self.server.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the REST XML server on 127.0.0.1 (`port` 0: any free one) in a background thread with its own actix
/// System; it serves `emulator` until the handle is dropped.
pub fn spawn_server(emulator: Emulator, port: u16) -> io::Result<ServerHandle> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let address = listener.local_addr()?;
    let (ready, started) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("route53-emulator".into())
        .spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(emulator.clone()))
                        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                        .route("/2013-04-01/hostedzone", web::get().to(list_hosted_zones))
                        .route("/2013-04-01/hostedzone", web::post().to(create_hosted_zone))
                        .route(
                            "/2013-04-01/hostedzonesbyname",
                            web::get().to(list_hosted_zones_by_name),
                        )
                        .route(
                            "/2013-04-01/hostedzone/{id}",
                            web::get().to(get_hosted_zone),
                        )
                        .route(
                            "/2013-04-01/hostedzone/{id}/rrset",
                            web::get().to(list_record_sets),
                        )
                        .route(
                            "/2013-04-01/hostedzone/{id}/rrset/",
                            web::get().to(list_record_sets),
                        )
                        .route(
                            "/2013-04-01/hostedzone/{id}/rrset",
                            web::post().to(change_record_sets),
                        )
                        .route(
                            "/2013-04-01/hostedzone/{id}/rrset/",
                            web::post().to(change_record_sets),
                        )
                        .route("/2013-04-01/change/{id}", web::get().to(get_change))
                        .route("/_emulator/records", web::get().to(records))
                        .route("/", web::post().to(ec2_query))
                        .default_service(web::to(unknown_operation))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(0)
                .listen(listener);
                let server = match server {
                    Ok(server) => server.run(),
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return;
                    }
                };
                let _ = ready.send(Ok(server.handle()));
                let _ = server.await;
            });
        })?;
    let server = started
        .recv()
        .map_err(|_| io::Error::other("the emulator's server thread ended before serving"))??;
    Ok(ServerHandle {
        address,
        server,
        thread: Some(thread),
    })
}

type Query = web::Query<HashMap<String, String>>;

async fn get_hosted_zone(emulator: web::Data<Emulator>, path: web::Path<String>) -> HttpResponse {
    let id = bare_zone_id(&path).to_string();
    let result = emulator
        .call(Operation::GetHostedZone, Some(&id), &[], 200, |s, _| {
            s.hosted_zone(&id)
        })
        .await;
    respond(&emulator, result, |zone| {
        xml_response(
            StatusCode::OK,
            xml::document(&xml::GetHostedZoneResponse::of(&zone)),
        )
    })
}

async fn list_hosted_zones(emulator: web::Data<Emulator>, query: Query) -> HttpResponse {
    let marker = query.get("marker").cloned();
    let max_items = max_items(&query, MAX_ZONES_PER_PAGE);
    let result = emulator
        .call(Operation::ListHostedZones, None, &[], 200, |s, _| {
            let max_items = max_items?;
            Ok((s.list_zones(marker.as_deref(), max_items), max_items))
        })
        .await;
    respond(&emulator, result, |((zones, next), max_items)| {
        let body = xml::ListHostedZonesResponse {
            xmlns: xml::NAMESPACE,
            zones: xml::HostedZonesXml::of(&zones),
            marker: marker.clone().unwrap_or_default(),
            is_truncated: next.is_some(),
            next_marker: next,
            max_items: max_items.to_string(),
        };
        xml_response(StatusCode::OK, xml::document(&body))
    })
}

async fn list_hosted_zones_by_name(emulator: web::Data<Emulator>, query: Query) -> HttpResponse {
    let dns_name = query.get("dnsname").cloned();
    let zone_id = query
        .get("hostedzoneid")
        .map(|id| bare_zone_id(id).to_string());
    let max_items = max_items(&query, MAX_ZONES_PER_PAGE);
    let result = emulator
        .call(Operation::ListHostedZonesByName, None, &[], 200, |s, _| {
            if zone_id.is_some() && dns_name.is_none() {
                return Err(ApiError::InvalidInput(
                    "The hostedzoneid parameter needs the dnsname parameter".into(),
                ));
            }
            let max_items = max_items?;
            Ok((
                s.list_zones_by_name(dns_name.as_deref(), zone_id.as_deref(), max_items),
                max_items,
            ))
        })
        .await;
    respond(&emulator, result, |((zones, next), max_items)| {
        let body = xml::ListHostedZonesByNameResponse {
            xmlns: xml::NAMESPACE,
            zones: xml::HostedZonesXml::of(&zones),
            dns_name: dns_name.clone(),
            hosted_zone_id: zone_id.clone(),
            is_truncated: next.is_some(),
            next_dns_name: next.as_ref().map(|(name, _)| name.clone()),
            next_hosted_zone_id: next.map(|(_, id)| id),
            max_items: max_items.to_string(),
        };
        xml_response(StatusCode::OK, xml::document(&body))
    })
}

async fn create_hosted_zone(
    emulator: web::Data<Emulator>,
    request: HttpRequest,
    body: Bytes,
) -> HttpResponse {
    let parsed = xml::parse::<xml::CreateHostedZoneRequest>(&body).map(|r| {
        let config = r.config.unwrap_or(xml::HostedZoneConfigXml {
            comment: None,
            private_zone: false,
        });
        NewZone {
            name: r.name,
            caller_reference: r.caller_reference,
            comment: config.comment,
            private_flag: config.private_zone,
            vpc: r.vpc.map(|v| {
                (
                    v.region.unwrap_or_else(|| "us-east-1".into()),
                    v.id.unwrap_or_default(),
                )
            }),
        }
    });
    let result = emulator
        .call(Operation::CreateHostedZone, None, &[], 201, |s, now| {
            s.create_zone(parsed?, now)
        })
        .await;
    let host = request.connection_info().host().to_string();
    respond(&emulator, result, |(zone, change)| {
        let mut response = xml_response(
            StatusCode::CREATED,
            xml::document(&xml::CreateHostedZoneResponse::of(&zone, &change)),
        );
        let location = format!("http://{host}/2013-04-01/hostedzone/{}", zone.zone.id);
        if let Ok(value) = location.parse() {
            response
                .headers_mut()
                .insert(actix_web::http::header::LOCATION, value);
        }
        response
    })
}

async fn list_record_sets(
    emulator: web::Data<Emulator>,
    path: web::Path<String>,
    query: Query,
) -> HttpResponse {
    let id = bare_zone_id(&path).to_string();
    let max_items_text = query.get("maxitems").cloned();
    let start = match (
        query.get("name"),
        query.get("type"),
        query.get("identifier"),
    ) {
        (None, None, None) => Ok(None),
        (None, _, _) => Err(ApiError::InvalidInput(
            "A StartRecordName is required with a StartRecordType".into(),
        )),
        (Some(name), rtype, identifier) => Ok(Some(RecordPosition {
            name: name.clone(),
            rtype: rtype.cloned(),
            identifier: identifier.cloned(),
        })),
    };
    let result = emulator
        .call(
            Operation::ListResourceRecordSets,
            Some(&id),
            &[],
            200,
            |s, _| {
                let max_items = match &max_items_text {
                    None => None,
                    Some(text) => Some(text.parse::<i32>().map_err(|_| invalid_max_items(text))?),
                };
                s.list_record_sets(&id, start?.as_ref(), max_items)
            },
        )
        .await;
    let max_items = max_items_text.unwrap_or_else(|| MAX_PAGE_ITEMS.to_string());
    respond(&emulator, result, |page| {
        let next = page.next;
        let body = xml::ListResourceRecordSetsResponse {
            xmlns: xml::NAMESPACE,
            sets: xml::RecordSetsXml {
                sets: page
                    .record_sets
                    .iter()
                    .map(xml::RecordSetXml::from)
                    .collect(),
            },
            is_truncated: next.is_some(),
            next_name: next.as_ref().map(|p| p.name.clone()),
            next_type: next.as_ref().and_then(|p| p.rtype.clone()),
            next_identifier: next.and_then(|p| p.identifier),
            max_items,
        };
        xml_response(StatusCode::OK, xml::document(&body))
    })
}

async fn change_record_sets(
    emulator: web::Data<Emulator>,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    let id = bare_zone_id(&path).to_string();
    let parsed = xml::change_batch(&body);
    let changes = parsed
        .as_ref()
        .map(|(changes, _)| changes.clone())
        .unwrap_or_default();
    let result = emulator
        .call(
            Operation::ChangeResourceRecordSets,
            Some(&id),
            &changes,
            200,
            |s, now| {
                let (changes, comment) = parsed?;
                s.change_record_sets(&id, &changes, comment, now)
            },
        )
        .await;
    respond(&emulator, result, |change| {
        xml_response(
            StatusCode::OK,
            xml::ChangeInfoResponse::document("ChangeResourceRecordSetsResponse", &change),
        )
    })
}

async fn get_change(emulator: web::Data<Emulator>, path: web::Path<String>) -> HttpResponse {
    let id = bare_change_id(&path).to_string();
    let result = emulator
        .call(Operation::GetChange, None, &[], 200, |s, now| {
            s.get_change(&id, now)
        })
        .await;
    respond(&emulator, result, |change| {
        xml_response(
            StatusCode::OK,
            xml::ChangeInfoResponse::document("GetChangeResponse", &change),
        )
    })
}

/// EC2's Query API: DescribeInstances, the one action served.
async fn ec2_query(emulator: web::Data<Emulator>, body: Bytes) -> HttpResponse {
    let request = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .map_err(|e| Ec2ApiError {
            status: 400,
            code: "InvalidParameterValue".into(),
            message: format!("The form could not be read: {e}"),
        })
        .and_then(|pairs| ec2::parse_form(&pairs));
    let request_id = request_id();
    match emulator.describe_instances(request).await {
        Ok((page, next)) => xml_response(
            StatusCode::OK,
            ec2::describe_xml(&page, next.as_deref(), &request_id),
        ),
        Err(Ec2Failure::Reset) => HttpResponse::Ok().body(ResetBody),
        Err(Ec2Failure::Api(error)) => xml_response(
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ec2::error_xml(&error, &request_id),
        ),
    }
}

async fn records(emulator: web::Data<Emulator>) -> HttpResponse {
    let text = emulator.lock().describe_records();
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text)
}

async fn unknown_operation(request: HttpRequest) -> HttpResponse {
    let error = ApiError::InvalidInput(format!(
        "The route53-emulator does not serve {} {}",
        request.method(),
        request.path()
    ));
    let mut response = error_response(&error, false);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// `maxitems` from the query: `default` when absent, never above it.
fn max_items(query: &Query, default: usize) -> Result<usize, ApiError> {
    match query.get("maxitems") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(default)),
            _ => Err(invalid_max_items(text)),
        },
    }
}

fn invalid_max_items(text: &str) -> ApiError {
    ApiError::InvalidInput(format!(
        "Invalid value for maxitems: '{text}'; it must be a positive integer"
    ))
}

/// The answer to one request: `ok` of its result, Route53's error body, or no answer at all.
fn respond<T>(
    emulator: &Emulator,
    result: Result<T, Failure>,
    ok: impl FnOnce(T) -> HttpResponse,
) -> HttpResponse {
    match result {
        Ok(value) => ok(value),
        Err(Failure::Reset) => HttpResponse::Ok().body(ResetBody),
        Err(Failure::Api(error)) => {
            let legacy = emulator.lock().legacy_invalid_change_batch();
            error_response(&error, legacy)
        }
    }
}

fn error_response(error: &ApiError, legacy: bool) -> HttpResponse {
    let request_id = request_id();
    let body = match error {
        ApiError::InvalidChangeBatch(messages) if legacy => {
            xml::document(&xml::LegacyInvalidChangeBatch::of(messages, &request_id))
        }
        _ => xml::document(&xml::ErrorResponse::of(error, &request_id)),
    };
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = xml_response(status, body);
    if let Ok(value) = request_id.parse() {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-amzn-requestid"),
            value,
        );
    }
    response
}

fn xml_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/xml")
        .body(body)
}

/// A request id in the shape Route53 uses (a UUID).
fn request_id() -> String {
    let mut rng = rand::rng();
    let hex = |n: usize, rng: &mut rand::rngs::ThreadRng| {
        (0..n)
            .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
            .collect::<String>()
    };
    format!(
        "{}-{}-{}-{}-{}",
        hex(8, &mut rng),
        hex(4, &mut rng),
        hex(4, &mut rng),
        hex(4, &mut rng),
        hex(12, &mut rng)
    )
}

/// A body that fails before its first byte. actix-web's HTTP/1 dispatcher then drops the connection before it
/// flushes the status line, so the client sees the connection close with no answer at all: Route53 "resetting" it.
struct ResetBody;

impl MessageBody for ResetBody {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "emulated connection reset",
        ))))
    }
}
