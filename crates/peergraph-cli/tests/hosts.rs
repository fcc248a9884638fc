//! Eight `peergraph join` processes, each in its own network namespace on one bridge (the test
//! creates the namespaces and removes them; traffic stays on their addresses): they join one
//! graph through one bootstrap address, each lists all the others, a direct connection opened
//! by peer id alone crosses hosts, and after two nodes are killed without a word the others
//! drop them and the graph still serves; a record added on one host reaches every host, and a
//! host that was down while records were added restarts from its database and learns them
//! from its neighbors. Each host drops 2% of the packets it receives, at
//! random (nftables), so every TCP link runs through retransmissions. Needs root (`ip netns`)
//! and `nft`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::Running;

const HOSTS: usize = 8;
const GRAPH: &str = "hosts";
const PORT: u16 = 7000;
/// Short, so that killed nodes drop out of the lists within the test's patience.
const PRESENCE_LIFETIME: &str = "8";

/// Runs `ip ARGS`, failing the test if it fails.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// In percent: the packets each host drops as they arrive, at random.
const LOSS_PERCENT: u32 = 2;

/// Runs `nft RULE` inside network namespace `netns`, failing the test if it fails.
fn nft(netns: &str, rule: &str) {
    let output = Command::new("ip")
        .args(["netns", "exec", netns, "nft", rule])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "nft {rule}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A bridge namespace and `HOSTS` host namespaces, each with one veth on the bridge and the
/// address 10.77.0.N/24 (N from 1), dropping [`LOSS_PERCENT`] of what arrives; removed when
/// dropped.
struct Hosts {
    prefix: String,
}

impl Hosts {
    fn new() -> Self {
        let prefix = format!("pg{}", std::process::id());
        let hosts = Self { prefix };
        let bridge = hosts.bridge();
        ip(&["netns", "add", &bridge]);
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &bridge, "link", "set", "br0", "up"]);
        for host in 1..=HOSTS {
            let netns = hosts.netns(host);
            let veth = format!("{}v{host}", hosts.prefix);
            ip(&["netns", "add", &netns]);
            ip(&[
                "link", "add", &veth, "netns", &bridge, "type", "veth", "peer", "name", "eth0",
                "netns", &netns,
            ]);
            ip(&["-n", &bridge, "link", "set", &veth, "master", "br0", "up"]);
            ip(&[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{}/24", address(host)),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &netns, "link", "set", "eth0", "up"]);
            ip(&["-n", &netns, "link", "set", "lo", "up"]);
            nft(&netns, "add table inet loss");
            nft(
                &netns,
                "add chain inet loss input { type filter hook input priority 0 ; policy accept ; }",
            );
            nft(
                &netns,
                &format!(
                    "add rule inet loss input iifname eth0 numgen random mod 100 < {LOSS_PERCENT} drop"
                ),
            );
        }
        hosts
    }

    fn bridge(&self) -> String {
        format!("{}-bridge", self.prefix)
    }

    fn netns(&self, host: usize) -> String {
        format!("{}-host{host}", self.prefix)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in 1..=HOSTS {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.netns(host)])
                .status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.bridge()])
            .status();
    }
}

fn address(host: usize) -> String {
    format!("10.77.0.{host}")
}

fn peer(host: usize) -> String {
    format!("host{host}")
}

/// Reads `node`'s stdout until it has printed `node PEER joined` for every peer of `others`.
async fn wait_until_listed(node: &mut Running, others: &BTreeSet<String>) {
    let mut joined = BTreeSet::new();
    while !others.is_subset(&joined) {
        let line = node.line_containing(" joined (node ").await;
        let name = line
            .split("] node ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        joined.insert(name.to_owned());
    }
}

/// `peergraph nodes` from host 8's namespace: the peer ids the graph lists.
async fn listed(hosts: &Hosts, bootstrap: &str) -> BTreeSet<String> {
    let mut lister = Running::spawn_in(
        &hosts.netns(HOSTS),
        &[
            "nodes",
            "--graph",
            GRAPH,
            "--peer-id",
            "lister",
            "--bootstrap",
            bootstrap,
        ],
    );
    lister.close_stdin();
    let finished = lister.exit().await;
    finished.expect_code(0);
    finished
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("node "))
        .map(|rest| rest.split(' ').next().unwrap().to_owned())
        .collect()
}

/// Sends `text` from host 8's namespace to the node with peer id `to`, found in the graph.
async fn send_by_name(hosts: &Hosts, bootstrap: &str, to: &str, text: &str) {
    let mut sender = Running::spawn_in(
        &hosts.netns(HOSTS),
        &[
            "send",
            "--graph",
            GRAPH,
            "--peer-id",
            "tester",
            "--bootstrap",
            bootstrap,
            "--to",
            to,
            "--message",
            text,
        ],
    );
    sender.close_stdin();
    sender.exit().await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_hosts_join_one_graph_list_each_other_and_survive_two_kills() {
    let hosts = Hosts::new();
    let listen = |host: usize| format!("{}:{PORT}", address(host));
    // Host 4 keeps its identity and records on disk, so that it can restart as itself.
    let dirs = tempfile::tempdir().unwrap();
    let data = dirs.path().join("data").to_str().unwrap().to_owned();
    let identity = dirs.path().join("identity").to_str().unwrap().to_owned();
    let join = |host: usize, bootstrap: Option<&str>| {
        let peer_id = peer(host);
        let listen = listen(host);
        let mut args = vec![
            "join",
            "--graph",
            GRAPH,
            "--peer-id",
            &peer_id,
            "--listen",
            &listen,
            "--presence-lifetime",
            PRESENCE_LIFETIME,
        ];
        if let Some(bootstrap) = bootstrap {
            args.extend(["--bootstrap", bootstrap]);
        }
        if host == RESTARTED {
            args.extend(["--data-dir", &data, "--identity-dir", &identity]);
        }
        Running::spawn_in(&hosts.netns(host), &args)
    };
    let mut first = join(1, None);
    let bootstrap = first.locator().await;
    let mut nodes = vec![(1, first)];
    for host in 2..=HOSTS {
        nodes.push((host, join(host, Some(&bootstrap))));
    }
    let all: BTreeSet<String> = (1..=HOSTS).map(peer).collect();
    for (host, node) in &mut nodes {
        let mut others = all.clone();
        others.remove(&peer(*host));
        wait_until_listed(node, &others).await;
    }
    assert_eq!(listed(&hosts, &bootstrap).await, all);

    // A node chosen from the list, reached by its peer id alone.
    send_by_name(&hosts, &bootstrap, &peer(5), "across hosts").await;
    node_of(&mut nodes, 5)
        .line_containing("> across hosts")
        .await;

    // Two nodes die without a word; the others drop them once their presence expires.
    let killed = [peer(3), peer(6)];
    let (dead, alive): (Vec<_>, Vec<_>) = nodes
        .into_iter()
        .partition(|(host, _)| killed.contains(&peer(*host)));
    let mut nodes = alive;
    for (_, node) in dead {
        node.kill().await;
    }
    for (_, node) in &mut nodes {
        let mut gone = BTreeSet::new();
        while gone.len() < killed.len() {
            let line = node.line_containing(" left (node ").await;
            let name = line
                .split("] node ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            if killed.iter().any(|peer| peer == name) {
                gone.insert(name.to_owned());
            }
        }
    }
    let survivors: BTreeSet<String> = all
        .iter()
        .filter(|peer| !killed.contains(peer))
        .cloned()
        .collect();
    assert_eq!(listed(&hosts, &bootstrap).await, survivors);
    send_by_name(&hosts, &bootstrap, &peer(7), "still here").await;
    node_of(&mut nodes, 7).line_containing("> still here").await;

    // A record added on one host reaches every host.
    let writer = node_of(&mut nodes, 2);
    writer.write_line("add type:hosts seen by all").await;
    let first = added(writer).await;
    for (_, node) in &mut nodes {
        node.line_containing(&format!("added: record {first} "))
            .await;
    }
    // Host 4 goes down; records are added meanwhile; it comes back with its database and
    // learns them from its neighbors.
    let index = nodes
        .iter()
        .position(|(host, _)| *host == RESTARTED)
        .unwrap();
    let (_, down) = nodes.remove(index);
    down.kill().await;
    let writer = node_of(&mut nodes, 2);
    let mut missed = Vec::new();
    for n in 0..3 {
        writer
            .write_line(&format!("add type:hosts while host4 was down {n}"))
            .await;
        missed.push(added(writer).await);
    }
    let mut back = join(RESTARTED, Some(&bootstrap));
    // Reconciliation delivers them in id order, not in the order they were added.
    let mut unseen: BTreeSet<&String> = missed.iter().collect();
    while !unseen.is_empty() {
        let line = back.line_containing("added: record ").await;
        unseen.retain(|id| !line.contains(&format!("added: record {id} ")));
    }
    back.write_line("list type:hosts").await;
    let mut listed_ids = BTreeSet::new();
    loop {
        let line = back
            .line_where("a record or the count", |line| {
                line.starts_with("record ") || line.starts_with("found ")
            })
            .await;
        if line.starts_with("found ") {
            break;
        }
        listed_ids.insert(line.split_whitespace().nth(1).unwrap().to_owned());
    }
    let expected: BTreeSet<String> = missed.into_iter().chain([first]).collect();
    assert_eq!(listed_ids, expected);
}

/// The host that restarts with its database.
const RESTARTED: usize = 4;

/// The id in `node`'s next line `added ID`.
async fn added(node: &mut Running) -> String {
    let line = node.line_starting("added ").await;
    line["added ".len()..].to_owned()
}

fn node_of(nodes: &mut [(usize, Running)], host: usize) -> &mut Running {
    &mut nodes
        .iter_mut()
        .find(|(number, _)| *number == host)
        .unwrap()
        .1
}
