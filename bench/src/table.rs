//! A plain-text table with aligned columns, for terminals and logs.

use std::fmt;

/// A text table: a header row, then rows of cells. The first column is aligned left
/// (names), the others right (numbers). Cells are measured in characters, so `µ` and
/// `–` take one column.
///
/// # Examples
///
/// ```
/// use weft_bench::Table;
///
/// let mut table = Table::new(["lock", "ops/s"]);
/// table.row(["spin", "12.0 M"]).row(["std", "9.50 M"]);
/// assert_eq!(
///     table.to_string(),
///     "lock   ops/s\n\
///      ----  ------\n\
///      spin  12.0 M\n\
///      std   9.50 M\n"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings and no rows.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row. Missing cells print empty; extra cells are kept.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// The column headings.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The rows, as added.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; columns];
        for line in std::iter::once(&self.header).chain(&self.rows) {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let write_line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            let mut text = String::new();
            for (column, width) in widths.iter().enumerate() {
                let cell = cells.get(column).map_or("", String::as_str);
                let pad = " ".repeat(width - cell.chars().count());
                if column > 0 {
                    text.push_str("  ");
                }
                if column == 0 {
                    text.push_str(cell);
                    text.push_str(&pad);
                } else {
                    text.push_str(&pad);
                    text.push_str(cell);
                }
            }
            writeln!(f, "{}", text.trim_end())
        };
        write_line(f, &self.header)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        write_line(f, &rule)?;
        for row in &self.rows {
            write_line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_count_as_one_column() {
        let mut table = Table::new(["a", "b"]);
        table.row(["x", "1 µs"]).row(["yy", "10 µs"]);
        let text = table.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "x    1 µs");
        assert_eq!(lines[3], "yy  10 µs");
    }

    #[test]
    fn short_rows_are_padded_and_long_rows_kept() {
        let mut table = Table::new(["a", "b"]);
        table.row(["only"]).row(["1", "2", "3"]);
        let text = table.to_string();
        assert!(text.lines().nth(2).unwrap() == "only");
        assert!(text.lines().nth(3).unwrap().ends_with("2  3"));
    }
}
