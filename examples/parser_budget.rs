//! A user crate testing a parser's allocation budget: the pattern to copy.
//!
//! The parser splits `key=value;key=value` records into borrowed fields and only allocates
//! the `Vec` of fields. Its tests pin that down with allocsite:
//!
//! ```text
//! cargo test --example parser_budget --features track
//! ```
//!
//! Without `--features track` the budget tests are skipped (`#[cfg_attr(..., ignore)]`)
//! instead of failing; remove the attribute to make them fail loudly instead.

/// One `key=value` pair, borrowed from the input.
#[derive(Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

/// Parses `key=value;key=value`; pairs without `=` are skipped.
pub fn parse(record: &str) -> Vec<Field<'_>> {
    let mut fields = Vec::with_capacity(record.matches(';').count() + 1);
    for pair in record.split(';') {
        if let Some((key, value)) = pair.split_once('=') {
            fields.push(Field {
                key: key.trim(),
                value: value.trim(),
            });
        }
    }
    fields
}

/// Formats fields back, allocating the output string once.
pub fn render(fields: &[Field<'_>]) -> String {
    let length = fields.iter().map(|f| f.key.len() + f.value.len() + 2).sum();
    let mut out = String::with_capacity(length);
    for field in fields {
        out.push_str(field.key);
        out.push('=');
        out.push_str(field.value);
        out.push(';');
    }
    out
}

#[cfg(feature = "track")]
#[global_allocator]
static ALLOC: allocsite::Alloc = allocsite::Alloc::system();

fn main() {
    let fields = parse("name=allocsite; kind=profiler; lang=rust");
    println!("{}", render(&fields));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(not(feature = "track"), ignore = "needs --features track")]
    fn parse_allocates_only_the_field_vector() {
        let fields = allocsite::assert_allocs!(== 1, parse("a=1;b=2;c=3"));
        assert_eq!(fields.len(), 3);
    }

    #[test]
    #[cfg_attr(not(feature = "track"), ignore = "needs --features track")]
    fn render_allocates_once_and_frees_nothing_it_keeps() {
        let fields = parse("a=1;b=2");
        let text = allocsite::Budget::new()
            .max_allocations(1)
            .max_reallocations(0)
            .max_bytes(16)
            .run(|| render(&fields));
        assert_eq!(text, "a=1;b=2;");
    }

    #[test]
    #[cfg_attr(not(feature = "track"), ignore = "needs --features track")]
    fn reading_fields_allocates_nothing() {
        let fields = parse("a=1;b=22");
        let total =
            allocsite::assert_no_alloc!(fields.iter().map(|f| f.value.len()).sum::<usize>());
        assert_eq!(total, 3);
    }

    #[test]
    #[cfg_attr(not(feature = "track"), ignore = "needs --features track")]
    fn parse_and_drop_leaks_nothing() {
        allocsite::Budget::new()
            .no_leaks()
            .run(|| drop(parse("x=1;y=2")));
    }

    #[test]
    #[cfg_attr(not(feature = "track"), ignore = "needs --features track")]
    fn parse_matches_its_committed_baseline() {
        allocsite::assert_baseline!(
            "tests/baselines/parser_budget_parse.txt",
            parse("a=1;b=2;c=3;d=4")
        );
    }
}
