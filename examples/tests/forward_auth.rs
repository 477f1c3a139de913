//! examples/forward_auth.rs behind a real nginx (`auth_request`): nginx on
//! 127.0.0.1 asks the forward-auth service, then proxies to an upstream
//! that records what it received. Needs the `nginx` binary (the Debian
//! package `nginx`; scripts/test installs it); each test starts its own
//! nginx with a generated configuration in a temporary directory.

#[allow(dead_code)]
#[path = "../forward_auth.rs"]
mod forward_auth;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::Router;
use tower_jwt_auth::forward::Origin;
use tower_jwt_auth::testing::TestIssuer;

/// What the upstream received: the headers of each request.
type Seen = Arc<Mutex<Vec<HeaderMap>>>;

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

/// The upstream: records each request's headers, answers "upstream".
async fn upstream() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let record = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let record = record.clone();
        async move {
            record.lock().expect("lock").push(headers);
            "upstream"
        }
    });
    (serve(app).await, seen)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running nginx, stopped (and its directory removed) on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (a SIGKILL would leave
        // them running, orphaned); SIGKILL only if it does not exit.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            Some(line.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}

/// nginx in front of `upstream`, asking `auth` (`auth_request`), with the
/// configuration the README shows.
fn nginx(auth: SocketAddr, upstream: SocketAddr) -> Nginx {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tower-jwt-auth-nginx-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let port = free_port();
    let d = dir.display();
    // Root: workers as root too (the temp dir is root's); otherwise nginx
    // runs as the current user and ignores `user`.
    let user = if is_root() { "user root;" } else { "" };
    let conf = format!(
        r#"{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_request /_auth;
            # 200: the mapped headers, replacing the client's copies (an
            # empty value sends no header).
            auth_request_set $user $upstream_http_x_user;
            auth_request_set $user_email $upstream_http_x_user_email;
            proxy_set_header X-User $user;
            proxy_set_header X-User-Email $user_email;
            proxy_set_header Authorization "";
            proxy_set_header DPoP "";
            # 401: nginx passes `WWW-Authenticate` back by itself; 403: here.
            auth_request_set $challenge $upstream_http_www_authenticate;
            error_page 403 = @forbidden;
            proxy_pass http://{upstream};
        }}
        location = /_auth {{
            internal;
            proxy_pass http://{auth}/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
        }}
        location @forbidden {{
            add_header WWW-Authenticate $challenge always;
            return 403;
        }}
    }}
}}
"#
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    let log = dir.join("stderr.log");
    let spawn = |bin: &str| {
        let stderr = std::fs::File::create(&log).expect("nginx log file");
        Command::new(bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .args(["-e", "stderr", "-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
    };
    // Debian puts nginx in /usr/sbin, which a user's PATH may lack.
    let child = match spawn("nginx").or_else(|_| spawn("/usr/sbin/nginx")) {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "nginx not found: this test needs a real nginx. Install the Debian package \
             `nginx` (apt-get install -y nginx), or run scripts/test, which installs it"
        ),
        Err(e) => panic!("cannot start nginx: {e}"),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut nginx = Nginx { child, dir, addr };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        let log = || std::fs::read_to_string(&log).unwrap_or_default();
        if let Ok(Some(status)) = nginx.child.try_wait() {
            panic!("nginx exited with {status}: {}", log());
        }
        assert!(
            Instant::now() < deadline,
            "nginx did not listen on {addr}: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nginx
}

/// A gateway: nginx, the forward-auth example (scope `api`), an upstream.
struct Gateway {
    issuer: TestIssuer,
    seen: Seen,
    nginx: Nginx,
}

async fn gateway() -> Gateway {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().realm("api").build().expect("auth");
    let app = forward_auth::app(&auth, Origin::nginx()).expect("app");
    let auth_addr = serve(app).await;
    let (upstream_addr, seen) = upstream().await;
    let nginx = nginx(auth_addr, upstream_addr);
    Gateway {
        issuer,
        seen,
        nginx,
    }
}

impl Gateway {
    async fn get(&self, headers: &[(&str, &str)]) -> reqwest::Response {
        let url = format!("http://{}/items?page=2", self.nginx.addr);
        let mut req = reqwest::Client::new().get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request through nginx")
    }

    fn seen(&self) -> Vec<HeaderMap> {
        self.seen.lock().expect("lock").clone()
    }
}

fn www(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

#[tokio::test]
async fn no_token_gets_401_with_the_challenge_passed_back() {
    let g = gateway().await;
    let res = g.get(&[("x-user", "admin")]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(www(&res), ["Bearer realm=\"api\""]);
    assert!(g.seen().is_empty(), "the upstream was reached");
}

#[tokio::test]
async fn valid_token_reaches_the_upstream_with_mapped_headers_and_without_authorization() {
    let g = gateway().await;
    let token = g
        .issuer
        .token()
        .subject("ada")
        .scope("api")
        .claim("email", "ada@example.com")
        .sign();
    let bearer = format!("Bearer {token}");
    let res = g
        .get(&[
            ("authorization", &bearer),
            ("x-user", "admin"),
            ("x-user-email", "admin@example.com"),
        ])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "upstream");
    let seen = g.seen();
    assert_eq!(seen.len(), 1);
    let h = &seen[0];
    let all = |name: &str| h.get_all(name).iter().cloned().collect::<Vec<_>>();
    assert_eq!(all("x-user"), ["ada"], "{h:?}");
    assert_eq!(all("x-user-email"), ["ada@example.com"], "{h:?}");
    assert!(h.get("authorization").is_none(), "{h:?}");
}

/// A token without `email`: the client's own `X-User-Email` does not reach
/// the upstream either.
#[tokio::test]
async fn a_client_copy_of_a_mapped_header_never_reaches_the_upstream() {
    let g = gateway().await;
    let token = g.issuer.token().subject("ada").scope("api").sign();
    let bearer = format!("Bearer {token}");
    let res = g
        .get(&[
            ("authorization", &bearer),
            ("x-user-email", "admin@example.com"),
        ])
        .await;
    assert_eq!(res.status(), 200);
    let seen = g.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["x-user"], "ada");
    assert!(seen[0].get("x-user-email").is_none(), "{:?}", seen[0]);
}

#[tokio::test]
async fn token_lacking_the_scope_gets_403_with_its_challenge() {
    let g = gateway().await;
    let token = g.issuer.token().subject("ada").scope("other").sign();
    let res = g
        .get(&[("authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(res.status(), 403);
    let www = www(&res);
    assert_eq!(www.len(), 1, "{www:?}");
    assert!(
        www[0].starts_with("Bearer realm=\"api\", error=\"insufficient_scope\""),
        "{www:?}"
    );
    assert!(www[0].contains("scope=\"api\""), "{www:?}");
    assert!(g.seen().is_empty(), "the upstream was reached");
}

/// A `sub` with CR/LF (a header injection attempt) is refused, not
/// forwarded.
#[tokio::test]
async fn a_claim_with_crlf_is_refused_at_the_gateway() {
    let g = gateway().await;
    let token = g
        .issuer
        .token()
        .subject("ada\r\nx-admin: yes")
        .scope("api")
        .sign();
    let res = g
        .get(&[("authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(res.status(), 403);
    assert!(g.seen().is_empty(), "the upstream was reached");
}
