//! The team-mode benchmark, run by `scripts/bench.sh team` against a
//! release daemon:
//!   team_bench single ADDRESS TOKEN WORKSPACE IMAGE REPO
//!     makes 199 more workspaces of IMAGE (t001…t199) beside WORKSPACE
//!     (t000), then prints the p50 (ms) of 300 `exec.run true` on it;
//!   team_bench team ADDRESS TOKEN WORKSPACE SINGLE_P50_MS
//!     (the same daemon in team mode; TOKEN: the site admin's) adds 1,000
//!     people and 2,000 shares, signs in as one sharee by password, and prints
//!     `exec.run true` p50 as that editor beside the single-user figure,
//!     and `workspace.list` p50 as the sharee and as the site admin.

use nexus_sdk::client::Client;
use nexus_sdk::team::{LoginParams, Role, ShareParams, UserAddParams};
use nexus_sdk::{CreateParams, ExecParams};
use std::time::{Duration, Instant};

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn exec_p50(c: &Client, workspace: &str) -> Duration {
    let params = ExecParams {
        workspace: workspace.into(),
        command: vec!["true".into()],
        ..Default::default()
    };
    for _ in 0..20 {
        c.exec_run(&params).await.expect("warm-up");
    }
    let mut times = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let r = c.exec_run(&params).await.expect("exec.run");
        assert_eq!(r.exit_code, 0);
        times.push(t.elapsed());
    }
    percentile(&mut times, 0.5)
}

async fn list_p50(c: &Client) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut seen = 0;
    for _ in 0..10 {
        c.list().await.expect("warm-up");
    }
    for _ in 0..100 {
        let t = Instant::now();
        seen = c.list().await.expect("list").len();
        times.push(t.elapsed());
    }
    (percentile(&mut times, 0.5), seen)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match &args[..] {
        [mode, address, token, workspace, image, repo] if mode == "single" => {
            let c = Client::connect(address, token).await.expect("connect");
            let key = std::fs::read_to_string(format!("{}/.ssh/id_ed25519.pub", std::env::var("HOME").expect("HOME")))
                .expect("key");
            let t = Instant::now();
            use futures::StreamExt;
            let made: Vec<_> = futures::stream::iter((1..200).map(|i| {
                let (admin, key, image, repo) = (&c, key.clone(), image.clone(), repo.clone());
                async move {
                    admin
                        .create(&CreateParams {
                            name: format!("t{i:03}"),
                            repository: repo,
                            image: Some(image),
                            authorized_keys: vec![key],
                            idle: None,
                            docker: None,
                            ..Default::default()
                        })
                        .await
                        .map(|w| w.name)
                }
            }))
            .buffer_unordered(8)
            .collect()
            .await;
            for m in made {
                m.expect("create");
            }
            eprintln!("199 workspaces in {:.1} s", t.elapsed().as_secs_f64());
            println!("{:.3}", ms(exec_p50(&c, workspace).await));
        }
        [mode, address, token, workspace, single] if mode == "team" => {
            let single: f64 = single.parse().expect("single p50");
            let admin = Client::connect(address, token).await.expect("connect");
            let password = "bench-password-1";
            let t = Instant::now();
            for i in 0..1000 {
                admin
                    .user_add(&UserAddParams {
                        name: format!("u{i:04}"),
                        password: (i == 1).then(|| password.to_string()),
                        ..Default::default()
                    })
                    .await
                    .expect("user.add");
            }
            eprintln!("1,000 people in {:.1} s", t.elapsed().as_secs_f64());
            let t = Instant::now();
            let names: Vec<String> = std::iter::once(workspace.clone())
                .chain((1..200).map(|i| format!("t{i:03}")))
                .collect();
            for (i, ws) in names.iter().enumerate() {
                for k in 0..10 {
                    let user = (i * 10 + k) % 1000;
                    let permission = if ws == workspace && user == 1 {
                        Role::Editor
                    } else {
                        Role::Viewer
                    };
                    admin
                        .share(&ShareParams {
                            workspace: ws.clone(),
                            user: format!("u{user:04}"),
                            permission,
                            expires: None,
                        })
                        .await
                        .expect("share");
                }
            }
            eprintln!("2,000 shares in {:.1} s", t.elapsed().as_secs_f64());
            let anonymous = Client::connect(address, "").await.expect("connect");
            let session = anonymous
                .auth_login(&LoginParams {
                    user: Some("u0001".into()),
                    password: Some(password.into()),
                    ..Default::default()
                })
                .await
                .expect("login");
            let sharee = Client::connect(address, &session.token).await.expect("connect");
            let team = ms(exec_p50(&sharee, workspace).await);
            let (sharee_list, sharee_sees) = list_p50(&sharee).await;
            let (admin_list, admin_sees) = list_p50(&admin).await;
            println!("{:70} {:>10} {:>10}", "", "nexus", "goal");
            println!(
                "{:70} {:>10.2} {:>10}",
                "exec.run true (SDK) p50 ms, team mode as an editor",
                team,
                format!("<= {:.2}", single * 1.1)
            );
            println!(
                "{:70} {:>10.2} {:>10}",
                "exec.run true (SDK) p50 ms, single-user mode", single, ""
            );
            println!("{:70} {:>10.2} {:>10}", "team / single-user", team / single, "<= 1.10");
            println!(
                "{:70} {:>10.2} {:>10}",
                format!("workspace.list p50 ms, a sharee seeing {sharee_sees} of 200 (1,000 people, 2,000 shares)"),
                ms(sharee_list),
                "<= 20"
            );
            println!(
                "{:70} {:>10.2} {:>10}",
                format!("workspace.list p50 ms, the site admin seeing {admin_sees}"),
                ms(admin_list),
                "<= 20"
            );
        }
        _ => {
            eprintln!(
                "usage: team_bench single ADDRESS TOKEN WORKSPACE IMAGE REPO | team ADDRESS TOKEN WORKSPACE SINGLE_P50_MS"
            );
            std::process::exit(2);
        }
    }
}
