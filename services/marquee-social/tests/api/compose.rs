//! Composed posts: golden files per network, and properties of the length
//! rules (`UPDATE_GOLDEN=1` rewrites the golden files).

use std::collections::BTreeMap;

use marquee_events::{Rating, Review};
use marquee_social::{
    AccountSettings, BLUESKY_BYTES, BLUESKY_GRAPHEMES, Composer, MASTODON_LIMIT, Network, X_LIMIT,
    bluesky_length, mastodon_length, truncate_to_fit, x_weighted_length,
};
use marquee_test_support::assert_golden;
use proptest::prelude::*;

use crate::helpers::{Engine, TestApp, mastodon_account, published, review};

fn golden_reviews() -> Vec<Review> {
    let short = review("hamnet");
    let mut long = review("one-battle-after-another");
    long.headline =
        "One Battle After Another review – Paul Thomas Anderson’s wild, furious, hilarious epic"
            .to_owned();
    long.standfirst = "Leonardo DiCaprio is a burnt-out revolutionary hunting for his daughter in a sprawling, \
        propulsive thriller that finds Anderson at the peak of his powers, with Sean Penn and Benicio del Toro \
        on blistering form, a score by Jonny Greenwood that never lets up, and a car chase across the desert \
        hills of California that is among the most thrilling sequences of the decade; it is a film about \
        parenthood, paranoia and the long shadow of radical politics, and it is unmissable."
        .to_owned();
    let mut cjk = review("drive-my-car");
    cjk.headline = "ドライブ・マイ・カー review – Murakami 🚗 on the road to grief".to_owned();
    cjk.standfirst = "濱口竜介監督の傑作。".repeat(12);
    cjk.rating = Some(Rating::try_from(5).unwrap());
    let mut unrated = review("repertory-rundown");
    unrated.headline = "Repertory Rundown: What to Watch in London This Week".to_owned();
    unrated.standfirst = "Leone at the Prince Charles, Powell & Pressburger at the BFI".to_owned();
    unrated.rating = None;
    vec![short, long, cjk, unrated]
}

#[test]
fn rendered_posts_match_their_golden_files() {
    let hashtags = ["film".to_owned(), "#review".to_owned()];
    for network in Network::ALL {
        let composer = Composer::new(network, None, &hashtags).unwrap();
        let posts: Vec<String> = golden_reviews()
            .iter()
            .map(|r| composer.compose(r).unwrap().text)
            .collect();
        for text in &posts {
            assert!(network.fits(text), "{network:?}: {text}");
        }
        assert_golden(
            env!("CARGO_MANIFEST_DIR"),
            &format!("{}.txt", network.as_str()),
            format!("{}\n", posts.join("\n-----\n")),
        );
    }
}

#[test]
fn a_custom_template_sees_every_field() {
    let template =
        "{{ film }} {{ rating }}: {{ headline }} | {{ standfirst }} {{ url }} {{ hashtags }}";
    let composer =
        Composer::new(Network::Mastodon, Some(template), &["cinema".to_owned()]).unwrap();
    let text = composer.compose(&review("hamnet")).unwrap().text;
    assert_eq!(
        text,
        "Hamnet ★★★★☆: Hamnet review – a raw, aching portrait of grief | Chloé Zhao’s adaptation \
         of Maggie O’Farrell’s novel is tender and overwhelming https://films.example/reviews/hamnet #cinema"
    );
    assert!(
        Composer::new(Network::X, Some("{{ nope }}"), &[])
            .unwrap()
            .compose(&review("hamnet"))
            .is_err()
    );
}

#[test]
fn a_long_standfirst_is_cut_at_a_word_with_an_ellipsis() {
    let mut long = review("long");
    long.standfirst = "word ".repeat(200);
    let text = Composer::new(Network::Mastodon, None, &[])
        .unwrap()
        .compose(&long)
        .unwrap()
        .text;
    assert!(
        text.contains("word word…\n\nhttps://films.example/reviews/long"),
        "{text}"
    );
    // Cut as late as the rule allows: one more word would not fit.
    assert!(mastodon_length(&text) > MASTODON_LIMIT - "word ".len());
}

fn texts() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,700}",
        "[a-z ]{0,900}",
        "[\u{4e00}-\u{4fff} ]{0,400}",
        "(👩‍👩‍👧|🇬🇧|❤️|é|e\u{301}| |https://x.example/[a-z]{1,40}|#tag){0,200}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_composed_post_never_exceeds_its_network_limit(
        headline in texts(),
        standfirst in texts(),
        film in "\\PC{0,80}",
        prefix in "[\\PC&&[^{}%#]]{0,40}",
        repeat in 0_usize..40,
    ) {
        let mut r = review("prop");
        r.headline = headline;
        r.standfirst = standfirst;
        r.film.title = film;
        // Templates from none at all to far longer than any limit.
        let custom = format!("{}{{{{ headline }}}} {{{{ standfirst }}}} {{{{ url }}}}", prefix.repeat(repeat * 10));
        for network in Network::ALL {
            for template in [None, Some(custom.as_str())] {
                let composer = Composer::new(network, template, &["film".to_owned()]).unwrap();
                let text = composer.compose(&r).unwrap().text;
                prop_assert!(network.fits(&text), "{:?} overflows: {:?}", network, text);
            }
        }
        let (graphemes, bytes) = bluesky_length(&Composer::new(Network::Bluesky, None, &[]).unwrap().compose(&r).unwrap().text);
        prop_assert!(graphemes <= BLUESKY_GRAPHEMES && bytes <= BLUESKY_BYTES);
    }

    #[test]
    fn plain_ascii_counts_one_per_character(text in "[a-zA-Z0-9 .,!?']{0,400}") {
        prop_assert_eq!(mastodon_length(&text), text.len());
        prop_assert_eq!(x_weighted_length(&text), text.len());
        prop_assert_eq!(bluesky_length(&text), (text.len(), text.len()));
    }

    #[test]
    fn every_url_counts_23_on_mastodon_and_x(host in "[a-z]{1,60}", rest in "[a-z0-9/_-]{0,200}") {
        let text = format!("see https://{host}.example/{rest} now");
        prop_assert_eq!(mastodon_length(&text), 4 + 23 + 4);
        prop_assert_eq!(x_weighted_length(&text), 4 + 23 + 4);
    }

    #[test]
    fn cjk_weighs_two_on_x_and_one_grapheme_elsewhere(text in "[\u{4e00}-\u{9fff}\u{3041}-\u{3096}\u{30a1}-\u{30fa}]{0,200}") {
        let chars = text.chars().count();
        prop_assert_eq!(x_weighted_length(&text), 2 * chars);
        prop_assert_eq!(mastodon_length(&text), chars);
        prop_assert_eq!(bluesky_length(&text), (chars, 3 * chars));
    }

    #[test]
    fn an_emoji_sequence_weighs_two_on_x(n in 0_usize..50) {
        let text = "👩‍👩‍👧🇬🇧❤️".repeat(n);
        prop_assert_eq!(x_weighted_length(&text), 6 * n);
        prop_assert_eq!(bluesky_length(&text).0, 3 * n);
    }

    #[test]
    fn truncation_keeps_a_prefix_within_the_limit(text in "\\PC{0,600}", limit in 1_usize..300) {
        let fits = |t: &str| x_weighted_length(t) <= limit.max(2);
        let cut = truncate_to_fit(&text, fits);
        prop_assert!(fits(&cut));
        let kept = cut.strip_suffix('…').unwrap_or(&cut);
        prop_assert!(text.starts_with(kept));
    }
}

#[test]
fn limits_are_the_networks_own() {
    assert_eq!(
        (MASTODON_LIMIT, BLUESKY_GRAPHEMES, BLUESKY_BYTES, X_LIMIT),
        (500, 300, 3000, 280)
    );
}

#[tokio::test]
async fn a_feature_is_tagged_by_its_own_section_not_as_a_review() {
    let mut account = mastodon_account("masto", "https://mastodon.example");
    account.hashtags = vec!["film".to_owned()];
    account.section_hashtags = BTreeMap::from([
        ("In Cinemas".to_owned(), vec!["review".to_owned()]),
        (
            "Features".to_owned(),
            vec!["#feature".to_owned(), "Film".to_owned()],
        ),
    ]);
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.dry_run = true;
        settings.accounts = vec![AccountSettings::Mastodon(account)];
    })
    .await;
    app.publish("hamnet").await;
    let mut feature = review("best-of-2025");
    feature.headline = "The 20 Best Films of 2025".to_owned();
    feature.section = "Features".to_owned();
    feature.rating = None;
    app.deliver(&published(&feature)).await.unwrap();

    let review_text = app.entry("hamnet", "masto").await.post.text;
    assert!(review_text.ends_with("\n\n#film #review"), "{review_text}");
    let feature_text = app.entry("best-of-2025", "masto").await.post.text;
    assert!(
        feature_text.ends_with("\n\n#film #feature"),
        "{feature_text}"
    );
    assert!(!feature_text.contains("#review"), "{feature_text}");
}
