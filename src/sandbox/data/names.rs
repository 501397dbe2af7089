//! Word lists for realistic UK practice data.
//!
//! Phone numbers come from Ofcom's ranges reserved for drama (07700 900xxx, 020 7946 0xxx, …),
//! e-mail addresses use the reserved `example.*` domains, and NHS numbers start with 999 (the
//! test range) but carry a valid modulus-11 check digit: realistic shapes, nobody's real data.

use super::rng::Rng;

pub(crate) const FEMALE: &[&str] = &[
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Freya",
    "Evie",
    "Charlotte",
    "Emily",
    "Poppy",
    "Ella",
    "Sienna",
    "Daisy",
    "Chloe",
    "Sarah",
    "Emma",
    "Rachel",
    "Hannah",
    "Laura",
    "Claire",
    "Helen",
    "Joanne",
    "Karen",
    "Susan",
    "Margaret",
    "Patricia",
    "Aisha",
    "Priya",
    "Zara",
    "Niamh",
    "Siobhan",
    "Eilidh",
    "Megan",
    "Ffion",
];

pub(crate) const MALE: &[&str] = &[
    "Oliver", "George", "Noah", "Arthur", "Muhammad", "Leo", "Oscar", "Harry", "Archie", "Jack",
    "Henry", "Charlie", "Freddie", "Theodore", "Thomas", "Jacob", "Alfie", "Isaac", "James",
    "William", "David", "John", "Paul", "Mark", "Andrew", "Richard", "Stephen", "Peter", "Michael",
    "Robert", "Daniel", "Matthew", "Ravi", "Arjun", "Kwame", "Callum", "Rhys", "Dylan", "Connor",
    "Ewan",
];

pub(crate) const SURNAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Khan",
    "Ahmed",
    "Singh",
    "Begum",
    "O'Brien",
    "MacDonald",
    "Campbell",
    "Stewart",
    "Murray",
    "Reid",
];

pub(crate) const STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Main Street",
    "Park Road",
    "Church Road",
    "Church Street",
    "London Road",
    "Victoria Road",
    "Green Lane",
    "Manor Road",
    "Church Lane",
    "Park Avenue",
    "The Avenue",
    "The Crescent",
    "Queens Road",
    "New Road",
    "Grange Road",
    "Kings Road",
    "Alexandra Road",
    "Mill Lane",
    "Windsor Road",
    "Albert Road",
    "Springfield Road",
    "Highfield Road",
];

/// `(town, county, postcode area)`.
pub(crate) const TOWNS: &[(&str, &str, &str)] = &[
    ("Bristol", "Bristol", "BS"),
    ("Bath", "Somerset", "BA"),
    ("Leeds", "West Yorkshire", "LS"),
    ("Harrogate", "North Yorkshire", "HG"),
    ("Manchester", "Greater Manchester", "M"),
    ("Stockport", "Greater Manchester", "SK"),
    ("Cambridge", "Cambridgeshire", "CB"),
    ("Norwich", "Norfolk", "NR"),
    ("Exeter", "Devon", "EX"),
    ("Guildford", "Surrey", "GU"),
    ("Reading", "Berkshire", "RG"),
    ("Cardiff", "South Glamorgan", "CF"),
    ("Edinburgh", "Midlothian", "EH"),
    ("York", "North Yorkshire", "YO"),
];

/// Drama-reserved landline prefixes: `(prefix, first digits of the local number)`.
const LANDLINES: &[&str] = &[
    "020 7946 0",
    "0113 496 0",
    "0117 496 0",
    "0161 496 0",
    "0131 496 0",
];

pub(crate) const TITLES_F: &[&str] = &["Mrs", "Miss", "Ms", "Dr"];
pub(crate) const TITLES_M: &[&str] = &["Mr", "Mr", "Mr", "Dr"];

/// A person's identity drawn from `rng`: `(title, first name, last name, female)`.
pub(crate) fn person(rng: &Rng) -> (&'static str, &'static str, &'static str, bool) {
    let female = rng.chance("person.female", 0.52);
    let (titles, firsts) = if female {
        (TITLES_F, FEMALE)
    } else {
        (TITLES_M, MALE)
    };
    (
        *rng.pick("person.title", titles),
        *rng.pick("person.first", firsts),
        *rng.pick("person.last", SURNAMES),
        female,
    )
}

/// A mobile number in the 07700 900xxx drama range.
pub(crate) fn mobile(rng: &Rng, field: &str) -> String {
    format!("07700 900{:03}", rng.below(field, 1000))
}

/// A landline number in a drama range.
pub(crate) fn landline(rng: &Rng, field: &str) -> String {
    format!(
        "{}{:03}",
        rng.pick(field, LANDLINES),
        rng.below(field, 1000)
    )
}

/// An e-mail address on a reserved example domain.
pub(crate) fn email(rng: &Rng, first: &str, last: &str) -> String {
    let domain = rng.pick(
        "email.domain",
        &["example.com", "example.co.uk", "example.org", "example.net"],
    );
    let last: String = last.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    match rng.below("email.style", 3) {
        0 => format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
        1 => format!(
            "{}{}{}@{domain}",
            &first[..1].to_lowercase(),
            last.to_lowercase(),
            rng.below("email.n", 100)
        ),
        _ => format!(
            "{}_{}{}@{domain}",
            first.to_lowercase(),
            last.to_lowercase(),
            1950 + rng.below("email.n", 60)
        ),
    }
}

/// A street address: `(line 1, line 2 or None, town, county, postcode)`.
pub(crate) fn address(rng: &Rng) -> (String, Option<String>, &'static str, &'static str, String) {
    let (town, county, area) = *rng.pick("addr.town", TOWNS);
    let line1 = format!(
        "{} {}",
        rng.range("addr.no", 1, 180),
        rng.pick("addr.street", STREETS)
    );
    let line2 = rng
        .chance("addr.flat", 0.15)
        .then(|| format!("Flat {}", rng.range("addr.flatno", 1, 24)));
    (line1, line2, town, county, postcode(rng, area))
}

/// A well-formed postcode in `area`.
pub(crate) fn postcode(rng: &Rng, area: &str) -> String {
    const LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    let l1 = LETTERS[rng.below("pc.l1", LETTERS.len() as u64) as usize] as char;
    let l2 = LETTERS[rng.below("pc.l2", LETTERS.len() as u64) as usize] as char;
    format!(
        "{area}{} {}{l1}{l2}",
        rng.range("pc.district", 1, 20),
        rng.range("pc.sector", 1, 9)
    )
}

/// A 10-digit NHS number in the 999 test range with a valid modulus-11 check digit.
pub(crate) fn nhs_number(rng: &Rng) -> String {
    let mut k = 0;
    loop {
        let body = 999_000_000 + rng.below(&format!("nhs.{k}"), 1_000_000) as u32;
        let digits: Vec<u32> = body
            .to_string()
            .chars()
            .map(|c| c.to_digit(10).unwrap_or(0))
            .collect();
        let sum: u32 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| d * (10 - i as u32))
            .sum();
        let check = (11 - sum % 11) % 11;
        if check != 10 {
            return format!("{body}{check}");
        }
        k += 1;
    }
}

/// A National Insurance number shape (`QQ 12 34 56 C` without spaces), the prefix QQ being the
/// one HMRC uses in examples.
pub(crate) fn ni_number(rng: &Rng) -> String {
    format!(
        "QQ{:06}{}",
        rng.below("ni.n", 1_000_000),
        rng.pick("ni.suffix", &["A", "B", "C", "D"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_numbers_have_valid_check_digits() {
        for i in 0..200 {
            let n = nhs_number(&Rng::record(1, 1, "p", i));
            assert_eq!(n.len(), 10);
            let d: Vec<u32> = n.chars().map(|c| c.to_digit(10).unwrap()).collect();
            let sum: u32 = (0..9).map(|i| d[i] * (10 - i as u32)).sum();
            assert_eq!((11 - sum % 11) % 11, d[9]);
        }
    }

    #[test]
    fn contact_details_use_reserved_ranges() {
        let r = Rng::record(1, 1, "p", 3);
        assert!(mobile(&r, "m").starts_with("07700 900"));
        assert!(email(&r, "Ann", "O'Brien").contains("@example."));
        assert!(!email(&r, "Ann", "O'Brien").contains('\''));
        let (_, _, _, _, pc) = address(&r);
        assert!(pc.contains(' '));
    }
}
