//! `ports.*` through the SDK: listening ports detected in the container, and
//! host ports from the Nexus range forwarded to them through the agent.

use nexus_e2e::{BUSYBOX, Daemon, Repo};
use nexus_sdk::{ErrorKind, ForwardParams, UnforwardParams};
use std::io::{Read, Write};
use std::net::TcpStream;

fn get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn list_forward_and_unforward_ports() {
    let d = Daemon::start(36);
    let repo = Repo::new();
    d.create(&repo, "web", BUSYBOX);
    d.cli_ok(
        repo.path(),
        &[
            "workspace",
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "mkdir -p /srv && echo served-in-container > /srv/index.html && (httpd -p 8080 -h /srv &)",
        ],
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;
        let http = ForwardParams {
            workspace: "web".into(),
            container_port: 8080,
        };
        let ports = c.ports_list("web").await.expect("ports.list");
        assert!(
            ports
                .iter()
                .any(|p| p.container_port == 8080 && p.listening && p.host_port.is_none()),
            "{ports:?}"
        );
        assert!(
            !ports.iter().any(|p| p.container_port == 2222),
            "the agent's own port is not listed: {ports:?}"
        );

        let f = c.ports_forward(&http).await.expect("forward");
        let host = f.host_port.expect("host port");
        assert!(
            (d.range.0..=d.range.1).contains(&host),
            "host port {host} outside {:?}",
            d.range
        );
        let page = tokio::task::spawn_blocking(move || get(host))
            .await
            .expect("join")
            .expect("GET through the forward");
        assert!(page.ends_with("served-in-container\n"), "{page}");
        // many connections at once
        let fetches: Vec<_> = (0..10)
            .map(|_| tokio::task::spawn_blocking(move || get(host)))
            .collect();
        for f in fetches {
            assert!(f.await.expect("join").expect("GET").ends_with("served-in-container\n"));
        }
        let again = c.ports_forward(&http).await.expect("forward again");
        assert_eq!(
            again.host_port,
            Some(host),
            "forwarding a forwarded port returns the same host port"
        );
        let listed = c.ports_list("web").await.expect("list");
        assert!(
            listed
                .iter()
                .any(|p| p.container_port == 8080 && p.host_port == Some(host)),
            "{listed:?}"
        );

        c.ports_unforward(&UnforwardParams {
            workspace: "web".into(),
            host_port: host,
        })
        .await
        .expect("unforward");
        assert!(
            TcpStream::connect(("127.0.0.1", host)).is_err(),
            "the host port must be closed"
        );
        let err = c
            .ports_unforward(&UnforwardParams {
                workspace: "web".into(),
                host_port: host,
            })
            .await
            .expect_err("twice");
        assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");

        // a forward ends with its workspace, and its port is released
        let f = c.ports_forward(&http).await.expect("forward");
        let host = f.host_port.expect("host port");
        c.stop("web").await.expect("stop");
        assert!(
            TcpStream::connect(("127.0.0.1", host)).is_err(),
            "stop must close forwards"
        );
        let err = c.ports_forward(&http).await.expect_err("stopped");
        assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
        c.start("web").await.expect("start");
        let f = c.ports_forward(&http).await.expect("forward");
        let host = f.host_port.expect("host port");
        c.remove(&nexus_sdk::RemoveParams {
            name: "web".into(),
            force: true,
            delete_branch: true,
        })
        .await
        .expect("rm");
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", host)).is_ok(),
            "rm must release the forwarded port"
        );
    });
    d.assert_no_leftovers(&repo, "web", false);
}
