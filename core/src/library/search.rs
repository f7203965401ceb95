//! Search text as every store understands it: what counts as a word, and how matches rank.

/// The words of `text`, lowercased: runs of letters and digits. `fold` strips accents the
/// way the store's platform can (SQLite's tokenizer, the browser's `normalize`).
pub fn words(text: &str, fold: impl Fn(&str) -> String) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// How much a match in each searchable field counts: title, artists, album, album
/// artists, genres, path (the same weights the SQLite store gives BM25).
pub const FIELD_WEIGHTS: [f64; 6] = [10.0, 5.0, 4.0, 2.0, 1.0, 1.0];

/// Scores a track whose fields have the words `fields` (in [`FIELD_WEIGHTS`] order)
/// against `query` words: `None` unless every query word is a prefix of some word, else
/// the weights of the fields that matched, summed over the query words.
pub fn score(query: &[String], fields: &[Vec<String>; 6]) -> Option<f64> {
    let mut total = 0.0;
    for word in query {
        let mut matched = false;
        for (field, weight) in fields.iter().zip(FIELD_WEIGHTS) {
            if field.iter().any(|w| w.starts_with(word.as_str())) {
                total += weight;
                matched = true;
            }
        }
        if !matched {
            return None;
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_fold(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn words_are_alphanumeric_runs_lowercased() {
        assert_eq!(
            words("AC/DC — Back in Black!", no_fold),
            ["ac", "dc", "back", "in", "black"]
        );
        assert!(words(" -- ", no_fold).is_empty());
    }

    #[test]
    fn every_query_word_must_match_and_titles_rank_first() {
        let fields = |title: &str, artist: &str| {
            [
                words(title, no_fold),
                words(artist, no_fold),
                vec![],
                vec![],
                vec![],
                vec![],
            ]
        };
        let query = words("hom", no_fold);
        let in_title = score(&query, &fields("Homogenic", "Björk")).unwrap();
        let in_artist = score(&query, &fields("Jóga", "Homer")).unwrap();
        assert!(in_title > in_artist);
        assert_eq!(
            score(&words("hom xyz", no_fold), &fields("Homogenic", "B")),
            None
        );
    }
}
