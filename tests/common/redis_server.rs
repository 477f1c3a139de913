//! A real `redis-server`, started by the test on 127.0.0.1 and a free port,
//! stopped (killed) when dropped; plain or TLS ([`RedisServer::start_tls`],
//! with certificates the test makes, [`TlsFiles`]). Used as
//! `common::redis_server` (tests/redis), and by benches/revocation.rs, which
//! includes this file alone.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A running redis-server; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    tls: bool,
}

/// A free port of 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn spawn(args: &[String]) -> Child {
    let child = Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "redis-server not found: these tests need a real Redis. Install the Debian \
             package `redis-server` (apt-get install -y redis-server), or run scripts/test, \
             which installs it"
        ),
        Err(e) => panic!("cannot start redis-server: {e}"),
    }
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tower-jwt-auth-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA and a server certificate it signed, written (PEM) to a temp dir.
pub struct TlsFiles {
    pub dir: TempDir,
    pub ca: PathBuf,
    pub ca_pem: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// A fresh CA and a server certificate for 127.0.0.1 and localhost.
    pub fn generate() -> Self {
        Self::for_names(&["127.0.0.1", "localhost"])
    }

    /// A fresh CA and a server certificate for `names` (DNS names or IP
    /// addresses).
    pub fn for_names(names: &[&str]) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "tower-jwt-auth test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let dir = TempDir::new("tls");
        let files = Self {
            ca: dir.path("ca.pem"),
            ca_pem: ca_cert.pem(),
            cert: dir.path("server.pem"),
            key: dir.path("server.key"),
            dir,
        };
        std::fs::write(&files.ca, &files.ca_pem).unwrap();
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }
}

impl RedisServer {
    /// Starts a TLS-only redis-server (`--port 0 --tls-port <free port>`)
    /// with `files`' server certificate; clients are not asked for one.
    pub fn start_tls(files: &TlsFiles) -> Self {
        let port = free_port();
        let child = spawn(&[
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-cert-file".into(),
            files.cert.display().to_string(),
            "--tls-key-file".into(),
            files.key.display().to_string(),
            "--tls-ca-cert-file".into(),
            files.ca.display().to_string(),
            "--tls-auth-clients".into(),
            "no".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
        ]);
        let server = Self {
            child: Some(child),
            port,
            tls: true,
        };
        // Listening is enough: the tests check the handshake themselves.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "TLS redis-server did not listen on 127.0.0.1:{port} within 10 s \
                 (is redis-server built with TLS?)"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Starts redis-server on a free port of 127.0.0.1. Panics (the test
    /// fails) when the binary is missing, naming the Debian package.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts redis-server on `port` (e.g. to bring back one that was
    /// killed).
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &["--save", "", "--appendonly", "no"])
    }

    /// Starts redis-server on `port` of 127.0.0.1 with `extra` arguments.
    pub fn start_with(port: u16, extra: &[&str]) -> Self {
        let mut args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .map(String::from)
            .to_vec();
        args.extend(["--protected-mode", "yes"].map(String::from));
        args.extend(extra.iter().map(|a| a.to_string()));
        let child = spawn(&args);
        let server = Self {
            child: Some(child),
            port,
            tls: false,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.try_command(&["PING"]).as_deref() != Some("PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on 127.0.0.1:{port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: an outage, not a clean shutdown) and
    /// waits until the port refuses connections.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// One command over RESP; the reply as text (simple string, integer or
    /// bulk string; `nil` as "(nil)").
    pub fn command(&self, args: &[&str]) -> String {
        self.try_command(args)
            .unwrap_or_else(|| panic!("redis command {:?} failed", args.first()))
    }

    fn try_command(&self, args: &[&str]) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).ok()?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let line = line.trim_end();
        match line.as_bytes().first()? {
            b'+' | b':' => Some(line[1..].to_owned()),
            b'-' => Some(format!("ERR {}", &line[1..])),
            b'$' => {
                let len: i64 = line[1..].parse().ok()?;
                if len < 0 {
                    return Some("(nil)".into());
                }
                let mut buf = vec![0; len as usize + 2];
                r.read_exact(&mut buf).ok()?;
                buf.truncate(len as usize);
                String::from_utf8(buf).ok()
            }
            _ => None,
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of `n` masters (no replicas) on free ports of
/// 127.0.0.1, created with `redis-cli --cluster create`; each node keeps its
/// data in an append-only file and its `nodes.conf` in a temp dir, so a
/// node killed and started again comes back with its slots and keys. All
/// nodes are killed on drop.
pub struct RedisCluster {
    pub nodes: Vec<Option<RedisServer>>,
    pub ports: Vec<u16>,
    dir: TempDir,
}

impl RedisCluster {
    pub fn start(n: usize) -> Self {
        let dir = TempDir::new("cluster");
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut cluster = Self {
            nodes: Vec::new(),
            ports: ports.clone(),
            dir,
        };
        for i in 0..n {
            let node = cluster.start_node(i);
            cluster.nodes.push(Some(node));
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for p in &ports {
            create.arg(format!("127.0.0.1:{p}"));
        }
        let out = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-cli not found: install the Debian package `redis-tools` \
                 (a dependency of `redis-server`)"
            ),
            Err(e) => panic!("cannot run redis-cli: {e}"),
        };
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        cluster.wait_ok();
        cluster
    }

    fn start_node(&self, i: usize) -> RedisServer {
        let port = self.ports[i];
        let conf = self.dir.path(&format!("nodes-{port}.conf"));
        let data = self.dir.path(&format!("data-{port}"));
        std::fs::create_dir_all(&data).unwrap();
        RedisServer::start_with(
            port,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &conf.display().to_string(),
                "--cluster-node-timeout",
                "2000",
                "--cluster-require-full-coverage",
                "no",
                "--dir",
                &data.display().to_string(),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
        )
    }

    /// Waits until every running node reports `cluster_state:ok`.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in self.nodes.iter().flatten() {
            while !node
                .command(&["CLUSTER", "INFO"])
                .contains("cluster_state:ok")
            {
                assert!(Instant::now() < deadline, "cluster not ok within 30 s");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// The index of the node that owns `key`'s slot (asks every running
    /// node; the others answer MOVED).
    pub fn owner(&self, key: &str) -> usize {
        let slot = self
            .nodes
            .iter()
            .flatten()
            .next()
            .expect("a running node")
            .command(&["CLUSTER", "KEYSLOT", key]);
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(node) = node {
                if !node.command(&["EXISTS", key]).starts_with("ERR MOVED") {
                    return i;
                }
            }
        }
        panic!("no running node owns slot {slot}")
    }

    pub fn kill(&mut self, i: usize) {
        if let Some(mut node) = self.nodes[i].take() {
            node.kill();
        }
    }

    pub fn restart(&mut self, i: usize) {
        let node = self.start_node(i);
        self.nodes[i] = Some(node);
        self.wait_ok();
    }
}
