//! An IMDSv2 server on loopback, in a thread, for the daemon's metadata client.
//!
//! It answers the way the instance metadata service does, as far as the daemon cares:
//!
//! | request                                   | answer                                                     |
//! |-------------------------------------------|------------------------------------------------------------|
//! | `PUT /latest/api/token` with header `X-aws-ec2-metadata-token-ttl-seconds` | 200, the token, and the same header with the TTL (aws-config refuses a token without it) |
//! | `PUT /latest/api/token` without the header | 400                                                       |
//! | `GET /latest/meta-data/local-ipv4` with header `X-aws-ec2-metadata-token: <token>` | 200, the IP |
//! | `GET /latest/meta-data/instance-id` with the token | 200, the instance id                              |
//! | `GET /latest/dynamic/instance-identity/document` with the token | 200, the identity document (JSON: the instance id, [`ACCOUNT`], [`REGION`], the IP, …) |
//! | `GET` an item set with [`ImdsServer::set_item`] (`spot/instance-action`, …) with the token | 200, its text |
//! | a `GET` without the right token           | 401                                                        |
//! | anything else                             | 404                                                        |
//!
//! Given role credentials ([`ImdsServer::serve_credentials`]), it is also where an instance role's and a
//! task role's credentials come from, as the AWS credentials chain asks for them:
//!
//! | request                                   | answer                                                     |
//! |-------------------------------------------|------------------------------------------------------------|
//! | `GET /latest/meta-data/iam/security-credentials/` with the token | 200, the role's name ([`ROLE_NAME`])     |
//! | `GET /latest/meta-data/iam/security-credentials/<role>` with the token | 200, the credentials as JSON       |
//! | `GET` [`CONTAINER_CREDENTIALS_PATH`] with header `Authorization: <authorization>` | 200, the same JSON (the endpoint ECS serves a task role from, for `AWS_CONTAINER_CREDENTIALS_FULL_URI`); 401 without it |
//!
//! It counts every request it gets (so that a test can assert that none came), can answer 500 or hang for a while,
//! and can be started late on a port reserved earlier (a metadata service that is down at first).
//! Each connection gets one answer and is closed (`Connection: close`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The IMDSv2 session token it hands out (a test can check that no log shows it).
pub const TOKEN: &str = "test-token-AQAEAFa2yr3Q0w==";
/// The instance role's name, when it serves credentials.
pub const ROLE_NAME: &str = "route53-registrator-test-role";
/// The path of the container credentials endpoint, when it serves credentials.
pub const CONTAINER_CREDENTIALS_PATH: &str = "/v2/credentials/route53-registrator-test-task";
const ROLE_PATH_PREFIX: &str = "/latest/meta-data/iam/security-credentials/";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

/// The account its identity document names.
pub const ACCOUNT: &str = "123456789012";
/// The region its identity document names.
pub const REGION: &str = "us-east-1";
const IDENTITY_DOCUMENT_PATH: &str = "/latest/dynamic/instance-identity/document";

/// The instance identity document, shaped as EC2's (more fields than the daemon reads).
fn identity_document(state: &State) -> String {
    format!(
        "{{\n  \"accountId\" : \"{ACCOUNT}\",\n  \"architecture\" : \"x86_64\",\n  \"availabilityZone\" : \"{REGION}a\",\n  \
         \"imageId\" : \"ami-0123456789abcdef0\",\n  \"instanceId\" : \"{}\",\n  \"instanceType\" : \"m5.large\",\n  \
         \"privateIp\" : \"{}\",\n  \"region\" : \"{REGION}\",\n  \"version\" : \"2017-09-30\"\n}}",
        state.instance_id, state.local_ipv4
    )
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The status it was answered with.
    pub status: u16,
}

/// Temporary credentials of a role, as the metadata service or the ECS agent hands them out.
#[derive(Clone, Debug)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// What the container credentials endpoint expects in the `Authorization` header
    /// (`AWS_CONTAINER_AUTHORIZATION_TOKEN`).
    pub authorization: String,
}

impl RoleCredentials {
    /// The JSON document both endpoints answer (aws-config reads the same fields from either).
    fn json(&self) -> String {
        format!(
            "{{\"Code\":\"Success\",\"LastUpdated\":\"2026-01-01T00:00:00Z\",\"Type\":\"AWS-HMAC\",\
             \"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\",\"Token\":\"{}\",\
             \"Expiration\":\"2099-01-01T00:00:00Z\"}}",
            self.access_key_id, self.secret_access_key, self.session_token
        )
    }
}

#[derive(Debug)]
struct State {
    local_ipv4: String,
    instance_id: String,
    credentials: Option<RoleCredentials>,
    /// Items that exist only while something is planned (a Spot notice, a target lifecycle state), by path.
    items: BTreeMap<String, String>,
    failing: bool,
    hanging: bool,
    requests: Vec<Request>,
}

/// The running server; stopped on drop.
pub struct ImdsServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ImdsServer {
    /// Starts a server answering `local_ipv4` and `instance_id`, on a free loopback port.
    pub fn start(local_ipv4: &str, instance_id: &str) -> ImdsServer {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the IMDS test server");
        ImdsServer::serve(listener, local_ipv4, instance_id)
    }

    /// A loopback port that nothing listens on now, for [`ImdsServer::start_on`] later. (Bound, read and
    /// released: another process could take it meanwhile, which is unlikely in a test's few seconds.)
    pub fn reserve_port() -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
        listener.local_addr().expect("local address").port()
    }

    /// Starts a server on `port` (from [`ImdsServer::reserve_port`]).
    pub fn start_on(port: u16, local_ipv4: &str, instance_id: &str) -> ImdsServer {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind the reserved port");
        ImdsServer::serve(listener, local_ipv4, instance_id)
    }

    fn serve(listener: TcpListener, local_ipv4: &str, instance_id: &str) -> ImdsServer {
        let address = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            local_ipv4: local_ipv4.to_string(),
            instance_id: instance_id.to_string(),
            credentials: None,
            items: BTreeMap::new(),
            failing: false,
            hanging: false,
            requests: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_stop) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    // A client that misbehaves only loses its own connection.
                    let _ = handle(stream, &thread_state);
                }
            }
        });
        ImdsServer {
            address,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many requests it got.
    pub fn request_count(&self) -> usize {
        self.state.lock().unwrap().requests.len()
    }

    /// How many requests for `path` it answered 200.
    pub fn answered(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.path == path && r.status == 200)
            .count()
    }

    /// Changes the IP it answers from now on.
    pub fn set_local_ipv4(&self, ip: &str) {
        self.state.lock().unwrap().local_ipv4 = ip.to_string();
    }

    /// Serves `credentials` from now on: as the instance role [`ROLE_NAME`], and on the container credentials
    /// endpoint ([`ImdsServer::container_credentials_uri`]).
    pub fn serve_credentials(&self, credentials: &RoleCredentials) {
        self.state.lock().unwrap().credentials = Some(credentials.clone());
    }

    /// `http://127.0.0.1:PORT/v2/credentials/...`, for `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn container_credentials_uri(&self) -> String {
        format!("{}{CONTAINER_CREDENTIALS_PATH}", self.endpoint())
    }

    /// Answers `text` for `path` from now on (`None`: 404 again), as the service answers a Spot
    /// interruption notice or a target lifecycle state while there is one.
    pub fn set_item(&self, path: &str, text: Option<&str>) {
        let mut state = self.state.lock().unwrap();
        match text {
            Some(text) => state.items.insert(path.to_string(), text.to_string()),
            None => state.items.remove(path),
        };
    }

    /// While `hanging`, every `GET` is never answered: its connection is held open for a minute, then
    /// closed (a token is still handed out, so that the client gets as far as the read).
    pub fn set_hanging(&self, hanging: bool) {
        self.state.lock().unwrap().hanging = hanging;
    }

    /// While `failing`, every request is answered 500.
    pub fn set_failing(&self, failing: bool) {
        self.state.lock().unwrap().failing = failing;
    }
}

impl Drop for ImdsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(()); // A connection that sent nothing (such as the wake-up on drop).
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if method == "GET" && state.lock().unwrap().hanging {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(60));
            drop(stream);
        });
        return Ok(());
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;

    let (status, extra_headers, text) = {
        let state = state.lock().unwrap();
        let authorised = header(TOKEN_HEADER).as_deref() == Some(TOKEN);
        if state.failing {
            (500, vec![], "failing".to_string())
        } else {
            match (method.as_str(), path.as_str()) {
                ("PUT", "/latest/api/token") => match header(TTL_HEADER) {
                    Some(ttl) => (200, vec![(TTL_HEADER, ttl)], TOKEN.to_string()),
                    None => (400, vec![], "missing token TTL".to_string()),
                },
                ("GET", "/latest/meta-data/local-ipv4") if authorised => {
                    (200, vec![], state.local_ipv4.clone())
                }
                ("GET", "/latest/meta-data/instance-id") if authorised => {
                    (200, vec![], state.instance_id.clone())
                }
                ("GET", IDENTITY_DOCUMENT_PATH) if authorised => {
                    (200, vec![], identity_document(&state))
                }
                ("GET", path) if authorised && state.items.contains_key(path) => {
                    (200, vec![], state.items[path].clone())
                }
                (
                    "GET",
                    "/latest/meta-data/local-ipv4"
                    | "/latest/meta-data/instance-id"
                    | IDENTITY_DOCUMENT_PATH,
                ) => (401, vec![], "unauthorized".to_string()),
                ("GET", path) if path.starts_with(ROLE_PATH_PREFIX) => {
                    match (&state.credentials, &path[ROLE_PATH_PREFIX.len()..]) {
                        (Some(_), _) if !authorised => (401, vec![], "unauthorized".to_string()),
                        (Some(_), "") => (200, vec![], ROLE_NAME.to_string()),
                        (Some(credentials), ROLE_NAME) => (200, vec![], credentials.json()),
                        _ => (404, vec![], "not found".to_string()),
                    }
                }
                ("GET", CONTAINER_CREDENTIALS_PATH) => match &state.credentials {
                    Some(credentials)
                        if header("authorization").as_deref()
                            == Some(credentials.authorization.as_str()) =>
                    {
                        (200, vec![], credentials.json())
                    }
                    Some(_) => (401, vec![], "unauthorized".to_string()),
                    None => (404, vec![], "not found".to_string()),
                },
                _ => (404, vec![], "not found".to_string()),
            }
        }
    };
    state.lock().unwrap().requests.push(Request {
        method,
        path,
        status,
    });

    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
        text.len()
    );
    for (name, value) in extra_headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&text);
    stream.write_all(response.as_bytes())?;
    stream.flush()
}
