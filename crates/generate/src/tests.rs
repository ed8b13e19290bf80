use super::*;

#[test]
fn spread_is_the_population_standard_deviation_per_dimension() {
    // two latents of width 2: (0, 5) and (2, 5)
    let s = spread_of(&[0.0, 5.0, 2.0, 5.0], 2);
    assert_eq!(s, vec![1.0, 0.0]);
}

#[test]
fn the_most_common_word_wins_ties_to_the_first() {
    let w = [Some("cat"), None, Some("face"), Some("face"), Some("cat")];
    assert_eq!(most_common(w.into_iter()).as_deref(), Some("cat"));
    assert_eq!(most_common([None, None].into_iter()), None);
}

#[test]
fn simplified_coordinates_span_0_to_255_on_the_longer_side() {
    let d = Stroke3::from_strokes(&[
        drawing::Stroke::new(vec![10.0, 30.0], vec![-5.0, 5.0]),
        drawing::Stroke::new(vec![20.0], vec![0.0]),
    ]);
    let s = ndjson::simplified(&d);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0], [vec![0, 255], vec![0, 128]]);
    assert_eq!(s[1], [vec![128], vec![64]]);
}

#[test]
fn bad_settings_are_refused() {
    for cfg in [
        GenerateConfig {
            count: 0,
            ..Default::default()
        },
        GenerateConfig {
            mix: 1.5,
            ..Default::default()
        },
        GenerateConfig {
            spread: f32::NAN,
            ..Default::default()
        },
    ] {
        assert!(cfg.validate().is_err(), "{cfg:?}");
    }
    assert!(GenerateConfig::default().validate().is_ok());
}
