//! `ports.*` through the SDK: listening ports detected in the container, and
//! host ports from the Nexus range forwarded to them through the agent; both
//! announced as `portOpened`/`portClosed` events.

use nexus_e2e::{BUSYBOX, Daemon, Repo};
use nexus_sdk::{ErrorKind, Event, EventsParams, ExecParams, ForwardParams, UnforwardParams};
use std::net::TcpStream;

fn get(port: u16) -> std::io::Result<String> {
    nexus_e2e::http_get(port, "/index.html")
}

/// The next port event of `sub` (other events skipped), within 20 s.
async fn next_port_event(sub: &mut nexus_sdk::client::Subscription<Event>) -> Event {
    loop {
        let e = tokio::time::timeout(std::time::Duration::from_secs(20), sub.next())
            .await
            .expect("a port event in time")
            .expect("open")
            .expect("parses");
        if matches!(e, Event::PortOpened { .. } | Event::PortClosed { .. }) {
            return e;
        }
    }
}

fn opened(container_port: u16, host_port: Option<u16>) -> Event {
    Event::PortOpened {
        workspace: "web".into(),
        container_port,
        host: None,
        host_port,
    }
}

fn closed(container_port: u16, host_port: Option<u16>) -> Event {
    Event::PortClosed {
        workspace: "web".into(),
        container_port,
        host: None,
        host_port,
    }
}

#[test]
fn list_forward_and_unforward_ports() {
    let d = Daemon::start();
    let repo = Repo::new();
    d.create(&repo, "web", BUSYBOX);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = d.client().await;
        let mut events = c
            .events(&EventsParams {
                workspace: Some("web".into()),
            })
            .await
            .expect("events.subscribe");
        let serve = "mkdir -p /srv && echo served-in-container > /srv/index.html && (httpd -p 8080 -h /srv &)";
        let exec = |cmd: &str| ExecParams {
            workspace: "web".into(),
            command: vec!["sh".into(), "-c".into(), cmd.into()],
            ..Default::default()
        };
        assert_eq!(c.exec_run(&exec(serve)).await.expect("httpd").exit_code, 0);
        // the agent's watcher sees the listener come (not its own port 2222)
        assert_eq!(next_port_event(&mut events).await, opened(8080, None));
        let http = ForwardParams {
            workspace: "web".into(),
            container_port: 8080,
            host: None,
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
        assert_eq!(next_port_event(&mut events).await, opened(8080, Some(host)));
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
        // `localhost` is the container itself; a host that is no name is refused
        let local = ForwardParams {
            host: Some("localhost".into()),
            ..http.clone()
        };
        let same = c.ports_forward(&local).await.expect("forward localhost");
        assert_eq!((same.host_port, same.host), (Some(host), None));
        let bad = ForwardParams {
            host: Some("no such host".into()),
            ..http.clone()
        };
        let err = c.ports_forward(&bad).await.expect_err("bad host");
        assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");
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
        assert_eq!(next_port_event(&mut events).await, closed(8080, Some(host)));
        assert!(
            TcpStream::connect(("127.0.0.1", host)).is_err(),
            "the host port must be closed"
        );
        // a listener that goes away, and one that comes
        let swap = "pkill httpd || killall httpd; httpd -p 8081 -h /srv";
        assert_eq!(c.exec_run(&exec(swap)).await.expect("swap").exit_code, 0);
        let mut seen = vec![next_port_event(&mut events).await, next_port_event(&mut events).await];
        seen.sort_by_key(|e| matches!(e, Event::PortOpened { .. }));
        assert_eq!(seen, vec![closed(8080, None), opened(8081, None)]);
        assert_eq!(c.exec_run(&exec(serve)).await.expect("httpd").exit_code, 0);
        assert_eq!(next_port_event(&mut events).await, opened(8080, None));
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
        assert_eq!(next_port_event(&mut events).await, opened(8080, Some(host)));
        c.stop("web").await.expect("stop");
        assert!(
            TcpStream::connect(("127.0.0.1", host)).is_err(),
            "stop must close forwards"
        );
        // stopping closes the forward and every listener, each announced once
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(next_port_event(&mut events).await);
        }
        for e in [closed(8080, Some(host)), closed(8080, None), closed(8081, None)] {
            assert!(seen.contains(&e), "{e:?} missing from {seen:?}");
        }
        let err = c.ports_forward(&http).await.expect_err("stopped");
        assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
        c.start("web").await.expect("start");
        let f = c.ports_forward(&http).await.expect("forward");
        let host = f.host_port.expect("host port");
        c.remove(&nexus_sdk::RemoveParams {
            workspace: "web".into(),
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
