//! A Unix socket proxy in front of the Docker engine's socket that a test can cut and restore: the daemon is
//! pointed at the proxy (`docker.host = "unix://…"`), and [`SocketProxy::cut`] makes the engine unreachable
//! (every open connection is shut, new ones are refused) until [`SocketProxy::restore`].

use std::io::ErrorKind;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The engine's socket.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

pub struct SocketProxy {
    path: PathBuf,
    _dir: tempfile::TempDir,
    open: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<UnixStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl SocketProxy {
    /// A proxy to the engine, listening on a socket in a temp dir.
    pub fn start() -> SocketProxy {
        let dir = tempfile::Builder::new()
            .prefix("r53r-proxy-")
            .tempdir()
            .expect("temp dir");
        let mut proxy = SocketProxy {
            path: dir.path().join("docker.sock"),
            _dir: dir,
            open: Arc::new(AtomicBool::new(false)),
            streams: Arc::default(),
            acceptor: None,
        };
        proxy.restore();
        proxy
    }

    /// `unix:///…/docker.sock`, for `docker.host`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Accepts connections (again) and forwards each to the engine.
    pub fn restore(&mut self) {
        if self.open.swap(true, Ordering::SeqCst) {
            return;
        }
        let listener = UnixListener::bind(&self.path).expect("bind the proxy socket");
        let (open, streams) = (self.open.clone(), self.streams.clone());
        self.acceptor = Some(std::thread::spawn(move || {
            for client in listener.incoming() {
                if !open.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(engine) = UnixStream::connect(DOCKER_SOCKET) else {
                    continue;
                };
                forward(client, engine, &streams);
            }
        }));
    }

    /// Shuts every open connection and refuses new ones until [`SocketProxy::restore`].
    pub fn cut(&mut self) {
        if !self.open.swap(false, Ordering::SeqCst) {
            return;
        }
        // Wake the acceptor so that it sees the flag and drops the listener.
        let _ = UnixStream::connect(&self.path);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let _ = std::fs::remove_file(&self.path);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Copies both ways between `client` and `engine` on two threads; keeps both ends to shut them on a cut.
fn forward(client: UnixStream, engine: UnixStream, streams: &Mutex<Vec<UnixStream>>) {
    let pairs = [
        (client.try_clone(), engine.try_clone()),
        (engine.try_clone(), client.try_clone()),
    ];
    {
        let mut kept = streams.lock().unwrap();
        kept.extend([client, engine]);
    }
    for pair in pairs {
        if let (Ok(mut from), Ok(mut to)) = pair {
            std::thread::spawn(move || {
                if let Err(e) = std::io::copy(&mut from, &mut to) {
                    // A cut shows up here as a reset or a broken pipe: the expected end.
                    if !matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) {
                        eprintln!("socket proxy: {e}");
                    }
                }
                let _ = to.shutdown(std::net::Shutdown::Write);
            });
        }
    }
}
