//! Several servers, one platform: three `tuilerie serve` replicas share a PostgreSQL catalog
//! (a real cluster started by the test) and a data directory, behind nginx (round robin, as
//! `deploy/` sets them up). A publication made through the load balancer — its uploads, checks
//! and processings landing on any replica — is served by all, a restyle reaches all, an
//! unpublication too; while PostgreSQL is down the published layers are still served and the
//! API answers 503 with `Retry-After`; the job of a killed replica is finished by another.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::api::{wms_vector, Api};
use common::{get, get_bytes, header, start_nginx, Server};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

const MAP: &str = "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=communes&STYLES=&CRS=EPSG:2154&BBOX=640000,6850000,670000,6880000&WIDTH=256&HEIGHT=256&FORMAT=image/png";
const TILE: &str = "/wmts/communes/normal/PM/12/1409/2074.png";
const RED: [u8; 4] = [0xE4, 0x1A, 0x1C, 255];
const BLUE: [u8; 4] = [0, 0, 255, 255];

fn has_colour(png: &[u8], colour: [u8; 4]) -> bool {
    image::load_from_memory(png)
        .unwrap()
        .to_rgba8()
        .pixels()
        .any(|p| p.0 == colour)
}

/// Waits until `done` holds on a replica, at most `limit` after `since`; answers how long it
/// took.
fn within(limit: Duration, since: Instant, what: &str, done: impl Fn() -> bool) -> Duration {
    loop {
        if done() {
            return since.elapsed();
        }
        assert!(since.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn three_replicas_on_one_postgres_catalog_serve_every_publication() {
    let cluster = match pgtest::Cluster::start() {
        Ok(cluster) => cluster,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let url = cluster.new_database().unwrap();
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let env = [("TUILERIE_CATALOG_URL", url.as_str())];
    let mut replicas: Vec<Server> = (0..3)
        .map(|_| Server::start_with_env("serve", &["--data", &data_arg], &env))
        .collect();
    let upstreams: Vec<&str> = replicas.iter().map(|r| r.addr.as_str()).collect();
    let Some(balancer) = start_nginx(&upstreams) else {
        eprintln!("skipped: nginx is not installed (Debian: nginx-light)");
        return;
    };
    let api = Api::new(&balancer, data.path());

    // Publish through the load balancer: each request to any replica.
    let communes = api.publish_red_blue_communes(
        &fixture("gpkg/communes_2154.gpkg"),
        &fixture("wms/communes.sld"),
    );
    let published = Instant::now();
    for (k, replica) in replicas.iter().enumerate() {
        let took = within(
            Duration::from_secs(2),
            published,
            &format!("replica {} lists the new layer", k + 1),
            || {
                get(&replica.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities"))
                    .2
                    .contains("<Name>communes</Name>")
            },
        );
        eprintln!("replica {}: publication served after {took:?}", k + 1);
        let (status, _, png) = get_bytes(&replica.url(MAP), &[]);
        assert_eq!(status, 200, "replica {}", k + 1);
        assert!(
            has_colour(&png, RED),
            "replica {} draws the red style",
            k + 1
        );
    }
    // Each replica renders and caches a tile of the red style.
    for replica in &replicas {
        let (status, _, png) = get_bytes(&replica.url(TILE), &[]);
        assert_eq!(status, 200);
        assert!(has_colour(&png, RED));
    }

    // Restyle (through the balancer): no replica serves red after 2 s, in maps or cached tiles.
    api.ok(
        api.put(
            &format!("/configurations/{}", communes.config),
            &wms_vector(
                "communes",
                &communes.stored,
                "communes_idf",
                &communes.blue_style,
            ),
        ),
        200,
    );
    let restyled = Instant::now();
    for (k, replica) in replicas.iter().enumerate() {
        let took = within(
            Duration::from_secs(2),
            restyled,
            &format!("replica {} draws the new style", k + 1),
            || {
                let (_, _, map) = get_bytes(&replica.url(MAP), &[]);
                let (_, _, tile) = get_bytes(&replica.url(TILE), &[]);
                has_colour(&map, BLUE)
                    && !has_colour(&map, RED)
                    && has_colour(&tile, BLUE)
                    && !has_colour(&tile, RED)
            },
        );
        eprintln!("replica {}: restyle served after {took:?}", k + 1);
    }

    // PostgreSQL away: layers are still served from each replica's snapshot; the API says
    // 503 with Retry-After; everything recovers when it is back.
    cluster.stop().unwrap();
    for replica in &replicas {
        let (status, _, png) = get_bytes(&replica.url(MAP), &[]);
        assert_eq!(status, 200);
        assert!(has_colour(&png, BLUE));
    }
    let (status, value) = api.get("/uploads");
    assert_eq!(status, 503, "{value}");
    assert_eq!(value["error"], "catalog_unavailable", "{value}");
    let (status, headers, _) = get_bytes(
        &replicas[2].url("/api/datastores/default/uploads"),
        &[("Authorization", &format!("Bearer {}", api.token))],
    );
    assert_eq!(status, 503);
    assert!(header(&headers, "retry-after").is_some(), "{headers:?}");
    cluster.restart().unwrap();
    let back = Instant::now();
    within(
        Duration::from_secs(30),
        back,
        "the API answers again",
        || api.get("/uploads").0 == 200,
    );

    // Unpublish (after the outage: every replica's listener reconnected).
    assert_eq!(
        api.delete(&format!("/offerings/{}", communes.offering)),
        204
    );
    let unpublished = Instant::now();
    for (k, replica) in replicas.iter().enumerate() {
        let took = within(
            Duration::from_secs(4),
            unpublished,
            &format!("replica {} drops the layer", k + 1),
            || {
                !get(&replica.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities"))
                    .2
                    .contains("<Name>communes</Name>")
            },
        );
        eprintln!("replica {}: unpublication served after {took:?}", k + 1);
    }

    // A pyramid job launched through replica 1; the replica that claimed it is SIGKILLed
    // mid-generation; another takes it over and finishes it, once.
    let name = url.rsplit('/').next().unwrap().to_owned();
    let execution_id = api.launch_long_pyramid(&fixture("rasters/rgb_4326.tif"));
    let owner = cluster
        .psql(
            &name,
            &format!("SELECT owner FROM job_claims WHERE job = '{execution_id}'"),
        )
        .unwrap();
    let pid: u32 = owner
        .split('/')
        .nth(1)
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no running claim: {owner:?}"));
    let running = replicas
        .iter()
        .position(|replica| replica.child.id() == pid)
        .unwrap_or_else(|| panic!("the owner {owner} is none of the replicas"));
    eprintln!("replica {} runs the pyramid job: killed", running + 1);
    replicas[running].sigkill();
    let killed = replicas.remove(running);
    // Through the balancer, which skips the dead replica.
    let logs = api.finished_long_pyramid(&execution_id);
    assert_eq!(
        logs.matches("stopped: resumed by").count(),
        1,
        "taken over once: {logs}"
    );
    assert_eq!(
        cluster
            .psql(&name, "SELECT count(*) FROM job_claims")
            .unwrap(),
        "0",
        "no claim left"
    );
    drop(killed);
}
