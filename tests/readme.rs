//! The README, read by a CommonMark parser (with GitHub's tables) the way a renderer reads it:
//! every code fence is closed where the author closed it, every table is a table with the same
//! number of cells in each row, every Rust block is compiled (no `ignore`) and has the
//! dependencies it needs shown above it, and every relative link points at a file.

use std::ops::Range;
use std::path::Path;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].lines().count() + 1
}

struct CodeBlock {
    info: String,
    range: Range<usize>,
}

/// The fenced code blocks, each with its info string and its source range (fences included).
fn code_blocks(text: &str) -> Vec<CodeBlock> {
    Parser::new_ext(text, Options::ENABLE_TABLES)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => Some(CodeBlock {
                info: info.to_string(),
                range,
            }),
            _ => None,
        })
        .collect()
}

/// Cells of a table row as GitHub counts them: split on `|` that is neither escaped nor
/// inside a code span, leading and trailing pipes dropped.
fn cells(row: &str) -> usize {
    let row = row.trim();
    let (mut count, mut in_code, mut previous) = (1, false, ' ');
    for c in row.chars() {
        match c {
            // `\|` is a pipe inside a cell, in a code span or not; a lone `\` is just text.
            '|' if previous == '\\' => {}
            '`' => in_code = !in_code,
            '|' if !in_code => count += 1,
            _ => {}
        }
        previous = c;
    }
    count - usize::from(row.starts_with('|')) - usize::from(row.ends_with('|'))
}

/// Lines at which a fenced block opens that its author did not close: it runs to the end of
/// the file, or it swallows the next block's opening fence (`` ```rust `` inside a block means
/// the fence before it was never closed, and every fence after it pairs up wrongly).
fn unclosed_fences(text: &str) -> Vec<usize> {
    code_blocks(text)
        .into_iter()
        .filter(|block| {
            let source = &text[block.range.clone()];
            let opening = source.lines().next().unwrap_or("");
            let fence: String = opening
                .trim_start()
                .chars()
                .take_while(|&c| c == '`')
                .collect();
            let lines: Vec<&str> = source.trim_end().lines().collect();
            let closed = lines.len() > 1 && lines[lines.len() - 1].trim() == fence;
            let swallows = lines[1..lines.len().saturating_sub(1).max(1)]
                .iter()
                .any(|l| l.trim_start().starts_with(&fence));
            !closed || swallows
        })
        .map(|block| line_of(text, block.range.start))
        .collect()
}

/// Problems with the tables: rows whose cell count differs from their header's, and `|` lines
/// outside every table and code block (a table that did not parse, or rows glued to another).
fn table_faults(text: &str) -> Vec<String> {
    let mut tables = Vec::new();
    for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        if let Event::Start(Tag::Table(_)) = event {
            tables.push(range);
        }
    }
    let mut faults = Vec::new();
    for range in &tables {
        let mut rows = text[range.clone()].lines().filter(|l| !l.trim().is_empty());
        let header = rows.next().map_or(0, cells);
        for row in rows.filter(|row| cells(row) != header) {
            faults.push(format!(
                "line {}: {} cells where the header has {header}: {row}",
                line_of(text, range.start),
                cells(row)
            ));
        }
    }
    let blocks = code_blocks(text);
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let inside = |r: &Range<usize>| r.contains(&offset);
        if line.starts_with('|')
            && !tables.iter().any(inside)
            && !blocks.iter().any(|b| inside(&b.range))
        {
            faults.push(format!(
                "line {}: a table row outside any table: {line}",
                line_of(text, offset)
            ));
        }
        offset += line.len();
    }
    faults
}

#[test]
fn every_code_fence_is_closed() {
    let unclosed = unclosed_fences(&readme());
    assert!(
        unclosed.is_empty(),
        "code blocks opened at lines {unclosed:?} are never closed"
    );
}

#[test]
fn every_table_is_well_formed() {
    let faults = table_faults(&readme());
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[test]
fn an_unclosed_fence_is_found() {
    let text = "# t\n\n```rust\nfn main() {}\n\n## next\n\n| a | b |\n|---|---|\n";
    assert_eq!(unclosed_fences(text), [3]);
    let swallowed = "```rust\nlet a = 1;\n\n## next\n\n```rust\nlet b = 2;\n```\n";
    assert_eq!(unclosed_fences(swallowed), [1]);
}

#[test]
fn rows_glued_under_another_table_are_found() {
    let text = "| a | b |\n|---|---|\n| 1 | 2 |\n| x | y | z |\n\ntext\n| stray |\n";
    assert_eq!(table_faults(text).len(), 2, "{:?}", table_faults(text));
}

#[test]
fn every_rust_block_is_compiled() {
    let text = readme();
    let rust: Vec<_> = code_blocks(&text)
        .into_iter()
        .filter(|b| b.info.split(',').next() == Some("rust"))
        .collect();
    assert!(!rust.is_empty(), "the README has Rust examples");
    for block in rust {
        assert!(
            !block.info.contains("ignore"),
            "the Rust block at line {} is `{}`: README blocks are doctests (no_run at most)",
            line_of(&text, block.range.start),
            block.info
        );
    }
}

#[test]
fn every_rust_block_has_its_dependencies_shown_above_it() {
    let text = readme();
    let blocks = code_blocks(&text);
    for (i, block) in blocks.iter().enumerate() {
        if block.info.split(',').next() != Some("rust") {
            continue;
        }
        // The nearest Cargo.toml fragment before it, in the same section.
        let section_start = text[..block.range.start].rfind("\n## ").unwrap_or(0);
        let shown = blocks[..i]
            .iter()
            .rev()
            .take_while(|b| b.range.start > section_start)
            .any(|b| b.info == "toml" && text[b.range.clone()].contains("[dependencies]"));
        assert!(
            shown,
            "the Rust block at line {} has no ```toml [dependencies] fragment above it in its section",
            line_of(&text, block.range.start)
        );
    }
}

#[test]
fn every_relative_link_points_at_a_file() {
    let text = readme();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for event in Parser::new_ext(&text, Options::ENABLE_TABLES) {
        if let Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) = event {
            let target = dest_url.split('#').next().unwrap_or("");
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            assert!(
                root.join(target).exists(),
                "the README links to {target}, which does not exist"
            );
        }
    }
}

#[test]
fn the_cell_counter_reads_pipes_as_github_does() {
    assert_eq!(cells("| a | b |"), 2);
    assert_eq!(cells("| `a|b` | c |"), 2);
    assert_eq!(cells(r"| a \| b | c |"), 2);
    assert_eq!(cells("a | b"), 2);
    assert_eq!(cells(r"| a `\` b | c |"), 2);
}

#[test]
fn your_first_service_is_examples_first_service_word_for_word() {
    let text = readme();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/first_service.rs"),
    )
    .unwrap();
    let section = &text[text.find("## Your first service").unwrap()..];
    let block = code_blocks(section)
        .into_iter()
        .find(|b| b.info.starts_with("rust"))
        .expect("a Rust block in Your first service");
    let source = &section[block.range];
    let body = &source[source.find('\n').unwrap() + 1..source.trim_end().rfind('\n').unwrap() + 1];
    assert_eq!(body, example, "README and examples/first_service.rs differ");
}
