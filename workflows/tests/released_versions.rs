//! Released workflow versions never change: runs pinned to a version resume on any worker of
//! any build, and the database refuses a definition whose content differs from the one
//! registered under its name and version (a deploy would fail at start-up). This test pins the
//! content hash of every released version, so a change to one fails here, in CI, instead.
//!
//! To change a workflow, add a new version beside the old one (see the workflows crate docs),
//! then add its line below — the failure message prints the lines of this build.

/// (workflow, version, SHA-256 of its canonical JSON) of every released version.
#[rustfmt::skip]
const RELEASED: &[(&str, i32, &str)] = &[
    ("selftest", 1, "758d1f226507f8b82691e7778c085045f45f358ab7098cdf0f3117a62836a3ba"),
    ("teardown-store", 1, "6f8cb512ca0817e2b12b8f1f81c728656d77dc3b5b93004ceef72ebcc674fefe"),
    ("rotate-credentials", 1, "8a65c395c56764abd910a45c4aae6e8e7e5474e601041ee1e12a25165c29fb37"),
    ("fleet-rollout", 1, "d0aa9f2bc901f9157ffec5d4107a0fdd4da29bdf6e8743aa181d235d1ca020b5"),
    ("reap-orphan-namespace", 1, "035d3ede151c137cdba81f083f8f5bb226fe520fcfa08d65b42909a923ba64aa"),
    ("reap-failed-stores", 1, "b22a2149bdb4cf3dd0ff56c4d64841e9b43eaa08438dfdd1da507cb2eeafacc6"),
    ("reap-orphans", 1, "6b5ee53f6ccacc15a83a49f6cb909c8f81b0af23516a96c713b5ec87db0664c8"),
    ("prune-history", 1, "21b9f2c856b9e1b9f879f40c8a7f72dc3627d169dd2770e3e17b5c8ab0b68676"),
    ("provision-woocommerce", 1, "428c994a93b857042ae95076549b912fc3b44c0d40a3ab1826759062416af550"),
    ("provision-woocommerce", 2, "0ea74c70071b1fa437011e5bec4d052ba24b88ecb0853f7f97172ee1661e6efd"),
    ("provision-medusa", 1, "a3679f3eaf038bfd81d4a84be837509c72164b5fa463ec80a177b41808bb4869"),
    ("provision-medusa", 2, "c696fc221baf555a0d0f17917072f2321d3242303716d7fa0b657bdb23bb340a"),
    ("upgrade-woocommerce", 1, "6affb33166c7c3d09189bd8dc84205b11d11f2c8720f6b387680a2095ed4f2a9"),
    ("upgrade-medusa", 1, "af56237efeb63aba3dadc02a6a89d4bd014fc6b149c4cca156f4135f493c724c"),
    ("scheduled-backups", 1, "d004f81f458d390fbd3c584aa03e8a4cf56ba87589ad1264ef6bb64b5a80d27f"),
    ("backup-woocommerce", 1, "cbc64b30baa31537767347af6d9fe09d987022cf150f6a18b44c1074d86fa670"),
    ("restore-woocommerce", 1, "58f2938e69038b7c2bb5cdb7ffc032c4a228770bc9000c186c0568392b2ec8c1"),
    ("restore-in-place-woocommerce", 1, "abc658395462ec1f3d8759c40dde96c741aaa9a31f861f6c0abf97e72b71d8b9"),
    ("backup-medusa", 1, "bbaf3604ec55f34c731498d973ab04794f0cbb5656b2eb2a53b4ccd345765fa8"),
    ("restore-medusa", 1, "2a4aac521bcdb1b9dbed0e0a43cfe14c6a81b147bc7ceb4103fb7ef2d1c0d79d"),
    ("restore-in-place-medusa", 1, "f31d927e66f3bc7bdbfd11ea1cdddcfeec522c07f9a96343976529aab76c5e5c"),
];

#[test]
fn every_released_workflow_version_keeps_its_content() {
    let registered: Vec<(String, i32, String)> = storeflow_workflows::registry()
        .iter()
        .map(|definition| {
            (
                definition.name.clone(),
                definition.version,
                definition.content_hash().expect("content hash"),
            )
        })
        .collect();
    let lines: Vec<String> = registered
        .iter()
        .map(|(name, version, hash)| format!("    (\"{name}\", {version}, \"{hash}\"),"))
        .collect();
    let table = lines.join("\n");
    for (name, version, hash) in RELEASED {
        let now = registered
            .iter()
            .find(|(n, v, _)| n == name && v == version)
            .map(|(_, _, hash)| hash.as_str());
        assert_eq!(
            now,
            Some(*hash),
            "{name} v{version} was released: its content must not change (add a new version \
             instead), nor may it be removed while runs can be pinned to it. This build \
             registers:\n{table}"
        );
    }
    for (name, version, _) in &registered {
        assert!(
            RELEASED.iter().any(|(n, v, _)| n == name && v == version),
            "{name} v{version} is not pinned yet: when it is released, add its line to RELEASED \
             in {}. This build registers:\n{table}",
            file!()
        );
    }
}
