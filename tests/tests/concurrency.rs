//! 20 concurrent creates get 20 distinct ports and all answer SSH; 20
//! concurrent removes leave nothing.

use nexus_e2e::{BUSYBOX, Daemon, Repo, text};

#[test]
fn twenty_concurrent_creates_get_distinct_ports() {
    let d = Daemon::start();
    let repo = Repo::new();
    let key = std::fs::read_to_string(d.home().join(".ssh/id_ed25519.pub")).expect("key");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let created = rt.block_on(async {
        let client = std::sync::Arc::new(d.client().await);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let client = client.clone();
                let params = nexus_sdk::CreateParams {
                    name: format!("c{i}"),
                    repository: repo.path().display().to_string(),
                    image: Some(BUSYBOX.into()),
                    authorized_keys: vec![key.clone()],
                    idle: None,
                    docker: None,
                    ..Default::default()
                };
                tokio::spawn(async move { client.create(&params).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("task").expect("create"));
        }
        out
    });
    let mut ports: Vec<u16> = created.iter().map(|w| w.ssh_port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 20, "ports must be distinct: {ports:?}");
    for w in &created {
        let json = serde_json::to_value(w).expect("json");
        let o = d.ssh(&json, "echo up");
        assert!(o.status.success(), "{}: {}", w.name, text(&o));
    }
    rt.block_on(async {
        let client = std::sync::Arc::new(d.client().await);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .remove(&nexus_sdk::RemoveParams {
                            workspace: format!("c{i}"),
                            force: false,
                            delete_branch: true,
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("remove");
        }
    });
    for i in 0..20 {
        d.assert_no_leftovers(&repo, &format!("c{i}"), false);
    }
    assert!(d.containers().is_empty());
}
