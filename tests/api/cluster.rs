//! The private PostgreSQL cluster: starts, restarts on an existing folder, recovers from
//! a crash, and stops leaving no server process behind.

use std::path::Path;

use sqlx::Connection;
use stockpile::db::LocalCluster;
use stockpile::db::cluster::Profile;

fn postgres_processes_on(dir: &Path) -> usize {
    let needle = dir.join("pg").display().to_string();
    std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("postgres") && c.contains(&needle))
        .count()
}

async fn can_query(cluster: &LocalCluster) -> bool {
    match sqlx::PgConnection::connect_with(&cluster.connect_options("postgres")).await {
        Ok(mut conn) => sqlx::query_scalar::<_, i32>("select 1")
            .fetch_one(&mut conn)
            .await
            .is_ok(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn the_private_cluster_starts_restarts_recovers_and_stops_cleanly() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cluster-lifecycle");
    let _ = std::fs::remove_dir_all(&dir);

    // First start initialises the folder.
    let cluster = LocalCluster::new(&dir, Profile::Ephemeral).expect("prepare");
    cluster.ensure_running().expect("first start");
    assert!(cluster.is_owned());
    assert!(can_query(&cluster).await);
    cluster
        .ensure_database("stockpile")
        .await
        .expect("create db");

    // A second user of the folder joins instead of starting another server.
    let joined = LocalCluster::new(&dir, Profile::Ephemeral).expect("prepare");
    joined.ensure_running().expect("join");
    assert!(!joined.is_owned());
    joined.stop_if_owned().expect("a joiner does not stop it");
    assert!(can_query(&cluster).await);

    cluster.stop().expect("stop");
    assert!(!cluster.is_running());
    assert_eq!(postgres_processes_on(&dir), 0);

    // Restart on the existing folder keeps the data.
    let again = LocalCluster::new(&dir, Profile::Ephemeral).expect("prepare");
    again.ensure_running().expect("restart");
    let mut conn = sqlx::PgConnection::connect_with(&again.connect_options("stockpile"))
        .await
        .expect("connect");
    sqlx::query("select 1")
        .execute(&mut conn)
        .await
        .expect("db survived");
    conn.close().await.ok();

    // A crash (kill -9 of the postmaster) leaves a stale postmaster.pid; the next start recovers.
    let pid: i32 = std::fs::read_to_string(dir.join("pg/postmaster.pid"))
        .expect("pid file")
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9");
    for _ in 0..50 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        dir.join("pg/postmaster.pid").exists(),
        "the crash leaves its pid file"
    );
    let recovered = LocalCluster::new(&dir, Profile::Ephemeral).expect("prepare");
    recovered.ensure_running().expect("start after a crash");
    assert!(can_query(&recovered).await);
    recovered.stop().expect("stop");
    for _ in 0..50 {
        if postgres_processes_on(&dir) == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        postgres_processes_on(&dir),
        0,
        "no postgres process is left behind"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
