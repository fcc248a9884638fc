use super::*;

// PROTOCOL.md's test vector is checked through the node, on both sides of the handshake, in
// tests/proof_and_hello.rs; the fake nodes that try to guess a secret are there too.

/// The exporter of the published test vector: bytes 0x00 to 0x1f.
fn exporter() -> [u8; 32] {
    std::array::from_fn(|index| index as u8)
}

/// Both sides of one exchange; the confirmations each side ends up with.
fn exchange(
    initiator: &GraphKey,
    target: &GraphKey,
    graph_ids: (&str, &str),
    exporters: (&[u8; 32], &[u8; 32]),
) -> Option<(Confirmations, Confirmations)> {
    let initiator = initiator.start(graph_ids.0, exporters.0);
    let target = target.start(graph_ids.1, exporters.1);
    let initiator_share = initiator.share().to_vec();
    let target_share = target.share().to_vec();
    Some((
        initiator.finish(&target_share)?,
        target.finish(&initiator_share)?,
    ))
}

/// Whether the target accepts the initiator's confirmation and the initiator the target's.
fn confirmed(sides: &(Confirmations, Confirmations)) -> bool {
    let (initiator, target) = sides;
    target.verify(
        Role::Initiator,
        initiator.confirmation(Role::Initiator).as_ref(),
    ) && initiator.verify(Role::Target, target.confirmation(Role::Target).as_ref())
}

fn password(secret: &[u8]) -> Vec<u8> {
    GraphKey::new(Some(secret))
        .0
        .map(|password| password.to_vec())
        .expect("a secret")
}

#[test]
fn the_same_secret_graph_and_session_confirm_on_both_sides() {
    let key = GraphKey::new(Some(b"s3cret"));
    let sides = exchange(&key, &key, ("chat", "chat"), (&exporter(), &exporter())).unwrap();
    assert!(confirmed(&sides));
    let (initiator, target) = &sides;
    assert_eq!(
        initiator.confirmation(Role::Initiator).as_ref().len(),
        CONFIRMATION_LEN
    );
    assert!(
        !target.verify(Role::Initiator, target.confirmation(Role::Target).as_ref()),
        "reflected"
    );
    assert!(!target.verify(Role::Initiator, &[]), "empty");
    let mut short = initiator.confirmation(Role::Initiator).as_ref().to_vec();
    short.pop();
    assert!(!target.verify(Role::Initiator, &short), "truncated");
}

#[test]
fn another_secret_graph_or_session_confirms_on_neither_side() {
    let key = GraphKey::new(Some(b"s3cret"));
    let other = GraphKey::new(Some(b"guess"));
    let sides = exchange(&key, &other, ("chat", "chat"), (&exporter(), &exporter())).unwrap();
    assert!(!confirmed(&sides), "another secret");
    let sides = exchange(&key, &key, ("chat", "chat2"), (&exporter(), &exporter())).unwrap();
    assert!(!confirmed(&sides), "another graph");
    let sides = exchange(&key, &key, ("chat", "chat"), (&exporter(), &[0; 32])).unwrap();
    assert!(!confirmed(&sides), "another TLS session");
}

#[test]
fn a_secret_is_its_exact_bytes() {
    // HMAC pads its key with zeros and hashes a key longer than its block: with the secret as
    // an HMAC key these pairs were one secret each.
    assert_ne!(password(b"s3cret"), password(b"s3cret\0\0\0"));
    let long = [0x5a; 100];
    let digest = ring::digest::digest(&ring::digest::SHA256, &long);
    assert_ne!(password(&long), password(digest.as_ref()));
    let key = GraphKey::new(Some(b"s3cret"));
    let padded = GraphKey::new(Some(b"s3cret\0\0\0"));
    let sides = exchange(&key, &padded, ("chat", "chat"), (&exporter(), &exporter())).unwrap();
    assert!(
        !confirmed(&sides),
        "a secret and the same followed by zeros"
    );
    let sides = exchange(
        &GraphKey::new(Some(&long)),
        &GraphKey::new(Some(digest.as_ref())),
        ("chat", "chat"),
        (&exporter(), &exporter()),
    )
    .unwrap();
    assert!(!confirmed(&sides), "a long secret and its SHA-256");
}

#[test]
fn an_open_graph_sends_empty_shares_and_confirmations() {
    let open = GraphKey::new(None);
    assert!(open.start("chat", &exporter()).share().is_empty());
    let sides = exchange(&open, &open, ("chat", "chat"), (&exporter(), &exporter())).unwrap();
    assert!(confirmed(&sides));
    assert!(sides.0.confirmation(Role::Initiator).as_ref().is_empty());
    assert!(
        !sides.1.verify(Role::Initiator, &[0; 32]),
        "a non-empty one"
    );
}

#[test]
fn a_secret_on_one_side_only_or_a_share_off_the_curve_agrees_on_nothing() {
    let key = GraphKey::new(Some(b"s3cret"));
    let open = GraphKey::new(None);
    assert!(exchange(&key, &open, ("chat", "chat"), (&exporter(), &exporter())).is_none());
    assert!(exchange(&open, &key, ("chat", "chat"), (&exporter(), &exporter())).is_none());
    let share = key.start("chat", &exporter()).share().to_vec();
    assert_eq!(share.len(), SHARE_LEN);
    assert_eq!(share[0], b'S', "the symmetric side byte");
    let finish = |peer: &[u8]| key.start("chat", &exporter()).finish(peer).is_some();
    assert!(finish(&share));
    assert!(!finish(&share[..32]), "short");
    assert!(!finish(&[]), "empty");
    let mut other_side = share.clone();
    other_side[0] = b'A';
    assert!(!finish(&other_side), "an asymmetric side byte");
    // y = 2 has no x on edwards25519 (2 is not a square's quotient): not a point.
    let mut off_curve = [0; SHARE_LEN];
    off_curve[0] = b'S';
    off_curve[1] = 2;
    assert!(!finish(&off_curve), "not a point");
}

#[test]
fn each_share_is_fresh() {
    let key = GraphKey::new(Some(b"s3cret"));
    let first = key.start("chat", &exporter()).share().to_vec();
    let second = key.start("chat", &exporter()).share().to_vec();
    assert_ne!(first, second);
}

/// A generator that returns `byte` forever: the published test vector's scalars are the 64 bytes
/// `0x11` (initiator) and `0x22` (target), reduced modulo the group order.
pub(super) struct Fixed(pub(super) u8);

impl rand_core::RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes([self.0; 4])
    }
    fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes([self.0; 8])
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(self.0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Fixed {}

/// The bytes after `label` in PROTOCOL.md's test vector, read from the document itself.
pub(super) fn published(label: &str) -> Vec<u8> {
    const PROTOCOL: &str = include_str!("../../../../docs/PROTOCOL.md");
    let after = PROTOCOL
        .split_once("Test vector (secret `s3cret`, graph id `chat`, exporter bytes `00 01 02")
        .expect("PROTOCOL.md publishes the membership test vector")
        .1;
    let hex = after
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("the test vector has a `{label}` line"))
        .trim();
    (0..hex.len() / 2)
        .map(|at| u8::from_str_radix(&hex[2 * at..2 * at + 2], 16).expect("hex digits"))
        .collect()
}

#[test]
fn the_published_test_vector_is_what_both_sides_compute() {
    assert_eq!(password(b"s3cret"), published("password:"));
    let key = GraphKey::new(Some(b"s3cret"));
    let initiator = key.start_with_rng("chat", &exporter(), Fixed(0x11));
    let target = key.start_with_rng("chat", &exporter(), Fixed(0x22));
    assert_eq!(initiator.share(), published("initiator share:"));
    assert_eq!(target.share(), published("target share:"));
    let (initiator_share, target_share) = (initiator.share().to_vec(), target.share().to_vec());
    let initiator_key = initiator
        .spake
        .expect("a secret")
        .finish(&target_share)
        .unwrap();
    let target_key = target
        .spake
        .expect("a secret")
        .finish(&initiator_share)
        .unwrap();
    assert_eq!(initiator_key, published("key:"));
    assert_eq!(target_key, published("key:"));
    let confirmations = Confirmations(Some(hmac::Key::new(hmac::HMAC_SHA256, &initiator_key)));
    assert_eq!(
        confirmations.confirmation(Role::Target).as_ref(),
        published("target confirmation:")
    );
    assert_eq!(
        confirmations.confirmation(Role::Initiator).as_ref(),
        published("initiator confirmation:")
    );
}
