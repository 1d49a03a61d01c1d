//! Vietnamese typing on the on-screen keyboard, the way Vietnamese users type on a phone or a
//! PC: Telex (`aa` → â, `aw` → ă, `ee` → ê, `oo` → ô, `ow` → ơ, `uw` or `w` → ư, `dd` → đ;
//! `s f r x j` put the five tones, `z` takes the tone off; doubling a key undoes it, so
//! "ass" is "as"), and the keyboard's own tone keys (combining marks), which work with Telex
//! on or off.
//!
//! Composition is stateless: each key is applied to the word at the end of the text, so a
//! field filled in from a stored record is edited the same way as a fresh one, and backspace
//! simply removes the last letter. A Telex key changes a word only when the result is still a
//! Vietnamese syllable; otherwise it is typed as itself, which keeps many English words
//! ("class", "hello", "latte") as they were typed. Others ("coffee": "ff" undoes a tone) need
//! Telex off, which is why it follows the customer's language and the keyboard has a key.
//!
//! Tones sit where the classic spelling puts them, the style the kiosk's own Vietnamese text
//! uses ("Xóa", "hòa", "khỏe", "thúy"): on the marked vowel if there is one (ư ơ ô ê â ă),
//! else on the only vowel, the middle of three, the second of two before a final consonant
//! ("hoàn"), and the first of two at the end of a word ("hòa").

/// Every Vietnamese vowel, with its five tones: no tone, sắc, huyền, hỏi, ngã, nặng.
const VOWELS: [[char; 6]; 12] = [
    ['a', 'á', 'à', 'ả', 'ã', 'ạ'],
    ['ă', 'ắ', 'ằ', 'ẳ', 'ẵ', 'ặ'],
    ['â', 'ấ', 'ầ', 'ẩ', 'ẫ', 'ậ'],
    ['e', 'é', 'è', 'ẻ', 'ẽ', 'ẹ'],
    ['ê', 'ế', 'ề', 'ể', 'ễ', 'ệ'],
    ['i', 'í', 'ì', 'ỉ', 'ĩ', 'ị'],
    ['o', 'ó', 'ò', 'ỏ', 'õ', 'ọ'],
    ['ô', 'ố', 'ồ', 'ổ', 'ỗ', 'ộ'],
    ['ơ', 'ớ', 'ờ', 'ở', 'ỡ', 'ợ'],
    ['u', 'ú', 'ù', 'ủ', 'ũ', 'ụ'],
    ['ư', 'ứ', 'ừ', 'ử', 'ữ', 'ự'],
    ['y', 'ý', 'ỳ', 'ỷ', 'ỹ', 'ỵ'],
];

/// The combining marks the keyboard's tone keys send, in tone order (sắc … nặng).
pub const TONE_MARKS: [char; 5] = ['\u{301}', '\u{300}', '\u{309}', '\u{303}', '\u{323}'];

/// Telex's tone keys, in tone order (sắc … nặng).
const TONE_KEYS: [char; 5] = ['s', 'f', 'r', 'x', 'j'];

/// Consonants that may start a syllable, longest first.
const INITIALS: &[&str] = &[
    "ngh", "ch", "gh", "gi", "kh", "ng", "nh", "ph", "qu", "th", "tr", "b", "c", "d", "đ", "g",
    "h", "k", "l", "m", "n", "p", "q", "r", "s", "t", "v", "x",
];

/// Consonants that may end a syllable.
const FINALS: &[&str] = &["", "c", "ch", "m", "n", "ng", "nh", "p", "t"];

/// Vowel groups of Vietnamese syllables (without tones), including the ones that need a
/// final consonant, and the unmarked forms a word passes through while it is typed ("tuye"
/// before "tuyệt", when the tone comes before the mark).
const NUCLEI: &[&str] = &[
    "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "ai", "ao", "au", "ay", "âu", "ây",
    "eo", "êu", "ia", "iê", "iu", "oa", "oă", "oe", "oi", "ôi", "ơi", "oo", "ua", "uâ", "uê", "ui",
    "uô", "uơ", "uy", "ưa", "ưi", "ươ", "ưu", "yê", "iêu", "oai", "oao", "oay", "oeo", "uây",
    "uôi", "uya", "uyê", "uyu", "ươi", "ươu", "yêu", "ie", "ye", "uo", "ưo", "uye", "ieu", "yeu",
    "uoi", "ưoi", "uou",
];

/// Whether Telex is the natural way to type in `lang`: on for Vietnamese, off elsewhere, so
/// English words type as they are spelt. The keyboard's Telex key changes it for one customer.
pub fn is_default_for(lang: &str) -> bool {
    lang == "vi"
}

/// One letter of a word: its base (a vowel with its marks but no tone, or a consonant), its
/// tone (0 for none, 1..=5 for sắc … nặng) and whether it is a capital.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Letter {
    base: char,
    tone: usize,
    upper: bool,
}

impl Letter {
    fn decode(c: char) -> Option<Letter> {
        let mut lower = c.to_lowercase();
        let l = lower.next()?;
        if lower.next().is_some() {
            return None;
        }
        let upper = l != c;
        for row in VOWELS {
            if let Some(tone) = row.iter().position(|v| *v == l) {
                return Some(Letter {
                    base: row[0],
                    tone,
                    upper,
                });
            }
        }
        (l.is_ascii_lowercase() || l == 'đ').then_some(Letter {
            base: l,
            tone: 0,
            upper,
        })
    }

    fn encode(self) -> char {
        let c = VOWELS
            .iter()
            .find(|row| row[0] == self.base)
            .map_or(self.base, |row| row[self.tone]);
        if self.upper {
            c.to_uppercase().next().unwrap_or(c)
        } else {
            c
        }
    }

    fn is_vowel(self) -> bool {
        VOWELS.iter().any(|row| row[0] == self.base)
    }

    /// The plain letter under the marks: a for ă and â, o for ô and ơ, u for ư, d for đ.
    fn plain(self) -> char {
        match self.base {
            'ă' | 'â' => 'a',
            'ê' => 'e',
            'ô' | 'ơ' => 'o',
            'ư' => 'u',
            'đ' => 'd',
            other => other,
        }
    }

    fn is_marked(self) -> bool {
        self.plain() != self.base && self.is_vowel()
    }
}

/// A word split as a Vietnamese syllable: where its vowel group starts and ends.
struct Syllable {
    vowels: std::ops::Range<usize>,
    has_final: bool,
}

fn parse(word: &[Letter]) -> Option<Syllable> {
    let bases: String = word.iter().map(|l| l.base).collect();
    let is_vowel_at = |i: usize| word.get(i).is_some_and(|l| l.is_vowel());
    let mut start = INITIALS
        .iter()
        .find(|i| bases.starts_with(*i))
        .map_or(0, |i| i.chars().count());
    // "gi" and "qu" are the consonant only before another vowel: "già" but "gì".
    if (bases.starts_with("gi") || bases.starts_with("qu")) && start == 2 && !is_vowel_at(2) {
        start = 1;
    }
    if start == 1 && bases.starts_with('q') {
        // q is only ever written qu.
        return None;
    }
    let mut end = start;
    while is_vowel_at(end) {
        end += 1;
    }
    if end == start {
        return None;
    }
    let nucleus: String = word[start..end].iter().map(|l| l.base).collect();
    let last: String = word[end..].iter().map(|l| l.base).collect();
    (NUCLEI.contains(&nucleus.as_str()) && FINALS.contains(&last.as_str())).then_some(Syllable {
        vowels: start..end,
        has_final: end < word.len(),
    })
}

/// The vowel that carries the tone in a syllable.
fn tone_position(word: &[Letter], syllable: &Syllable) -> usize {
    let range = syllable.vowels.clone();
    if let Some(marked) = range.clone().rev().find(|&i| word[i].is_marked()) {
        return marked;
    }
    match range.len() {
        1 => range.start,
        2 if syllable.has_final => range.start + 1,
        2 => range.start,
        _ => range.start + 1,
    }
}

/// The tone of a word: the first toned vowel's.
fn tone_of(word: &[Letter]) -> usize {
    word.iter().map(|l| l.tone).find(|t| *t != 0).unwrap_or(0)
}

/// Puts `tone` on the right vowel of `word`, taking it off every other; false when the word
/// is no syllable and has no vowel either.
fn set_tone(word: &mut [Letter], tone: usize) -> bool {
    let at = match parse(word) {
        Some(syllable) => tone_position(word, &syllable),
        // Not Vietnamese ("cafe"): the last vowel takes the mark.
        None => match word.iter().rposition(|l| l.is_vowel()) {
            Some(at) => at,
            None => return false,
        },
    };
    for letter in word.iter_mut() {
        letter.tone = 0;
    }
    word[at].tone = tone;
    true
}

/// Applies one key to `text`: `telex` turns Telex on. Keys of more than one character are
/// applied one character at a time.
pub fn type_key(text: &str, key: &str, telex: bool) -> String {
    key.chars()
        .fold(text.to_owned(), |text, c| type_char(&text, c, telex))
}

/// Applies one character to the word at the end of `text`.
pub fn type_char(text: &str, key: char, telex: bool) -> String {
    let start = word_start(text);
    let (head, tail) = text.split_at(start);
    let mut word: Vec<Letter> = tail.chars().filter_map(Letter::decode).collect();
    let composed = if let Some(tone) = TONE_MARKS.iter().position(|m| *m == key) {
        // A tone key: the same tone again takes it off. The key shows its tone on an "a",
        // and a word without a vowel gets that "a" ("nh" + á → "nhá").
        let tone = if tone_of(&word) == tone + 1 {
            0
        } else {
            tone + 1
        };
        if !set_tone(&mut word, tone) {
            word.push(Letter {
                base: 'a',
                tone,
                upper: false,
            });
        }
        Some(word)
    } else if telex {
        telex_key(word, key)
    } else {
        None
    };
    let mut out = String::with_capacity(text.len() + 4);
    out.push_str(head);
    match composed {
        Some(word) => out.extend(word.into_iter().map(Letter::encode)),
        None => {
            // Typed as itself; a word that already has a tone keeps it on the right vowel
            // ("hòa" + n → "hoàn").
            let mut word: Vec<Letter> = tail.chars().filter_map(Letter::decode).collect();
            match Letter::decode(key) {
                Some(letter) if tone_of(&word) != 0 => {
                    word.push(letter);
                    let tone = tone_of(&word);
                    if parse(&word).is_some() {
                        set_tone(&mut word, tone);
                    }
                    out.extend(word.into_iter().map(Letter::encode));
                }
                _ => {
                    out.push_str(tail);
                    out.push(key);
                }
            }
        }
    }
    out
}

/// Where the word at the end of `text` begins (a byte offset).
fn word_start(text: &str) -> usize {
    text.char_indices()
        .rev()
        .take_while(|(_, c)| Letter::decode(*c).is_some())
        .last()
        .map_or(text.len(), |(i, _)| i)
}

/// What a Telex key does to `word`, or `None` when it is typed as itself.
fn telex_key(mut word: Vec<Letter>, key: char) -> Option<Vec<Letter>> {
    let lower = key.to_ascii_lowercase();
    let literal = Letter::decode(key)?;
    let tone = tone_of(&word);
    if let Some(t) = TONE_KEYS.iter().position(|k| *k == lower) {
        parse(&word)?;
        if tone == t + 1 {
            // Doubled: "ass" is "as".
            set_tone(&mut word, 0);
            word.push(literal);
        } else {
            set_tone(&mut word, t + 1);
        }
        return Some(word);
    }
    match lower {
        'z' if tone != 0 => {
            set_tone(&mut word, 0);
            Some(word)
        }
        'd' => {
            // dd → đ, at the start of a word: "DDuwcs" is "Đức".
            let first = word.first().copied()?;
            if word.len() != 1 || first.plain() != 'd' {
                return None;
            }
            if first.base == 'đ' {
                word[0].base = 'd';
                word.push(literal);
            } else {
                word[0].base = 'đ';
            }
            Some(word)
        }
        'a' | 'e' | 'o' => {
            let hat = match lower {
                'a' => 'â',
                'e' => 'ê',
                _ => 'ô',
            };
            let at = word
                .iter()
                .rposition(|l| l.is_vowel() && l.plain() == lower)?;
            if word[at].base == hat {
                word[at].base = lower;
                word.push(literal);
                retone(&mut word, tone);
                return Some(word);
            }
            word[at].base = hat;
            syllable_or_none(word, tone)
        }
        'w' => horn(word, literal, tone),
        _ => None,
    }
}

/// What `w` does: ươ, ă, ơ or ư, whichever makes a syllable; alone it is ư ("nhw" → "như").
fn horn(mut word: Vec<Letter>, literal: Letter, tone: usize) -> Option<Vec<Letter>> {
    if !word.iter().any(|l| l.is_vowel()) {
        let initial: String = word.iter().map(|l| l.base).collect();
        if !initial.is_empty() && !INITIALS.contains(&initial.as_str()) {
            return None;
        }
        word.push(Letter {
            base: 'ư',
            ..literal
        });
        return Some(word);
    }
    // The u and o of "uo" take their horns together: "nguowif" is "người".
    let pair = (1..word.len()).find(|&i| word[i - 1].plain() == 'u' && word[i].plain() == 'o');
    if let Some(i) = pair {
        if word[i - 1].base == 'ư' && word[i].base == 'ơ' {
            word[i - 1].base = 'u';
            word[i].base = 'o';
            word.push(literal);
            retone(&mut word, tone);
            return Some(word);
        }
        let mut horned = word.clone();
        horned[i - 1].base = 'ư';
        horned[i].base = 'ơ';
        if let Some(done) = syllable_or_none(horned, tone) {
            return Some(done);
        }
    }
    for (plain, marked) in [('a', 'ă'), ('o', 'ơ'), ('u', 'ư')] {
        let Some(at) = word
            .iter()
            .rposition(|l| l.is_vowel() && l.plain() == plain)
        else {
            continue;
        };
        if word[at].base == marked {
            // Doubled: "aww" is "aw"; "ww" alone is "w".
            if word.len() == 1 && marked == 'ư' {
                return Some(vec![literal]);
            }
            word[at].base = plain;
            word.push(literal);
            retone(&mut word, tone);
            return Some(word);
        }
        let mut changed = word.clone();
        changed[at].base = marked;
        if let Some(done) = syllable_or_none(changed, tone) {
            return Some(done);
        }
    }
    None
}

/// `word` with `tone` re-placed, if it is a syllable.
fn syllable_or_none(mut word: Vec<Letter>, tone: usize) -> Option<Vec<Letter>> {
    parse(&word)?;
    set_tone(&mut word, tone);
    Some(word)
}

/// Re-places `tone` after an undo, where the word still is a syllable.
fn retone(word: &mut [Letter], tone: usize) {
    if tone != 0 && parse(word).is_some() {
        set_tone(word, tone);
    }
}

/// Removes the last letter of `text`, with any combining marks typed after it.
pub fn backspace(text: &str) -> String {
    let mut out = text.to_owned();
    while out
        .chars()
        .next_back()
        .is_some_and(|c| ('\u{300}'..='\u{36f}').contains(&c))
    {
        out.pop();
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telex(keys: &str) -> String {
        type_key("", keys, true)
    }

    #[test]
    fn telex_types_the_words_of_the_issue() {
        assert_eq!(telex("phucj vuj"), "phục vụ");
        assert_eq!(telex("chaamj"), "chậm");
        assert_eq!(telex("tuyeetj vowif"), "tuyệt vời");
        assert_eq!(telex("Phuowngj"), "Phượng");
        assert_eq!(telex("phuowngj"), "phượng");
        assert_eq!(telex("DDuwcs"), "Đức");
        assert_eq!(telex("Dduwcs"), "Đức");
    }

    #[test]
    fn telex_marks_each_vowel_and_d() {
        assert_eq!(telex("aa aw ee oo ow uw w dd"), "â ă ê ô ơ ư ư đ");
        assert_eq!(telex("AA AW EE OO OW UW W DD"), "Â Ă Ê Ô Ơ Ư Ư Đ");
        assert_eq!(telex("nhw"), "như");
        assert_eq!(telex("nguowif"), "người");
        assert_eq!(telex("dduwowcj"), "được");
        assert_eq!(telex("muaw"), "mưa");
        assert_eq!(telex("hoawcj"), "hoặc");
        assert_eq!(telex("caf phee"), "cà phê");
        assert_eq!(telex("Nguyeenx"), "Nguyễn");
        assert_eq!(telex("quoocs"), "quốc");
        assert_eq!(telex("giaf"), "già");
        assert_eq!(telex("gif"), "gì");
    }

    #[test]
    fn every_vowel_takes_all_five_tones_and_z_takes_the_tone_off() {
        let vowels = [
            "a", "aw", "aa", "e", "ee", "i", "o", "oo", "ow", "u", "uw", "y",
        ];
        for (row, keys) in VOWELS.iter().zip(vowels) {
            for (tone, key) in TONE_KEYS.iter().enumerate() {
                let typed = telex(&format!("{keys}{key}"));
                assert_eq!(typed, row[tone + 1].to_string(), "{keys}{key}");
                let capital = telex(&format!("{}{key}", keys.to_uppercase()));
                assert_eq!(capital, row[tone + 1].to_uppercase().to_string());
                assert_eq!(telex(&format!("{keys}{key}z")), row[0].to_string());
            }
        }
    }

    #[test]
    fn doubling_a_key_undoes_it() {
        assert_eq!(telex("ass"), "as");
        assert_eq!(telex("asss"), "ass");
        assert_eq!(telex("aaa"), "aa");
        assert_eq!(telex("aww"), "aw");
        assert_eq!(telex("ddd"), "dd");
        assert_eq!(telex("ww"), "w");
        assert_eq!(telex("uoww"), "uow");
    }

    #[test]
    fn tones_follow_the_classic_spelling() {
        assert_eq!(telex("hoaf"), "hòa");
        assert_eq!(telex("hoafn"), "hoàn");
        assert_eq!(telex("khoer"), "khỏe");
        assert_eq!(telex("thuys"), "thúy");
        assert_eq!(telex("xoas"), "xóa");
        assert_eq!(telex("tieengs"), "tiếng");
        assert_eq!(telex("muoons"), "muốn");
        assert_eq!(telex("quys"), "quý");
        assert_eq!(telex("khuyur"), "khuỷu");
        assert_eq!(telex("ngoaif"), "ngoài");
        // A tone typed before the mark moves to the marked vowel.
        assert_eq!(telex("tuyetje"), "tuyệt");
        assert_eq!(telex("tuyejte"), "tuyệt");
    }

    #[test]
    fn english_words_keep_their_spelling() {
        // As in every Telex: a doubled tone letter undoes the tone, so "ff" is one f
        // ("cofffee" types "coffee"); the keyboard's Telex key is there for English.
        assert_eq!(telex("coffee"), "cofee");
        assert_eq!(telex("cofffee"), "coffee");
        assert_eq!(type_key("", "coffee", false), "coffee");
        assert_eq!(telex("class"), "class");
        assert_eq!(telex("hello"), "hello");
        assert_eq!(telex("latte"), "latte");
        assert_eq!(telex("menu"), "menu");
        assert_eq!(type_key("", "espresso", false), "espresso");
        assert_eq!(type_key("", "too slow", false), "too slow");
    }

    #[test]
    fn without_telex_keys_are_letters_but_tone_keys_still_work() {
        assert_eq!(type_key("", "aas", false), "aas");
        assert_eq!(type_key("", "Phương\u{323}", false), "Phượng");
        assert_eq!(type_key("", "phuc\u{323} vu\u{323}", false), "phục vụ");
        assert_eq!(type_key("", "chaam\u{323}", true), "chậm");
        // The same tone key again takes the tone off; another replaces it.
        assert_eq!(type_key("", "a\u{301}\u{301}", false), "a");
        assert_eq!(type_key("", "a\u{301}\u{300}", false), "à");
        // Not Vietnamese: the last vowel takes the mark.
        assert_eq!(type_key("", "cafe\u{301}", false), "café");
        // Nothing to put a tone on: the key types what it shows, a toned "a".
        assert_eq!(type_key("ok ", "\u{301}", false), "ok á");
        assert_eq!(type_key("nh", "\u{323}", true), "nhạ");
        assert_eq!(type_key("", "đ", false), "đ");
    }

    #[test]
    fn only_the_last_word_changes() {
        assert_eq!(type_key("rất ngon, ", "as", true), "rất ngon, á");
        assert_eq!(type_key("Quán 24h ", "ddi", true), "Quán 24h đi");
        assert_eq!(type_key("phục vụ ", "chaamj", true), "phục vụ chậm");
    }

    #[test]
    fn backspace_removes_the_whole_letter() {
        assert_eq!(backspace("tuyệt"), "tuyệ");
        assert_eq!(backspace("Đ"), "");
        assert_eq!(backspace("e\u{302}\u{301}"), "");
        assert_eq!(backspace(""), "");
    }

    #[test]
    fn telex_is_the_default_in_vietnamese_only() {
        assert!(is_default_for("vi"));
        assert!(!is_default_for("en"));
    }
}
