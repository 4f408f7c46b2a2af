//! The tree walker: every table and value of the file with its location and dotted field
//! path, so each mistake is reported at the line and column it is on.

use super::*;

/// The file being parsed, for turning byte offsets into lines and columns.
pub(super) struct Source<'a> {
    /// The path as given, for messages.
    pub(super) file: &'a str,
    /// The whole file, to count lines and columns in.
    pub(super) text: &'a str,
}

impl Source<'_> {
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let line = before.matches('\n').count() + 1;
        (line, before[line_start..].chars().count() + 1)
    }

    pub(super) fn error(
        &self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
        suggestion: Option<String>,
    ) -> ScenarioError {
        let (line, column) = self.position(span.map_or(0, |span| span.start));
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
            suggestion,
        }
    }
}

/// A TOML node: an item of a standard table, or a value inside an array or inline table.
#[derive(Clone, Copy)]
pub(super) enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    pub(super) fn value(self) -> Option<&'a Value> {
        match self {
            Node::Item(item) => item.as_value(),
            Node::Value(value) => Some(value),
        }
    }

    pub(super) fn table_like(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Value(value) => value.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    pub(super) fn type_name(self) -> &'static str {
        match self {
            Node::Item(item) => item.type_name(),
            Node::Value(value) => value.type_name(),
        }
    }
}

/// Quotes a key for a dotted field path when it is not a bare TOML key.
pub(super) fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        format!("\"{key}\"")
    }
}

pub(super) fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        quote_key(key)
    } else {
        format!("{parent}.{}", quote_key(key))
    }
}

/// A value with its location and field path.
#[derive(Clone)]
pub(super) struct Field<'a> {
    pub(super) source: &'a Source<'a>,
    pub(super) node: Node<'a>,
    /// Dotted path for messages, e.g. `fault[1].actions[0].target`.
    pub(super) path: String,
    /// Bytes an error about this value points at: the value, else its key, else its table.
    pub(super) span: Option<Range<usize>>,
}

impl<'a> Field<'a> {
    pub(super) fn error(&self, message: impl Into<String>) -> ScenarioError {
        self.source
            .error(self.span.clone(), &self.path, message, None)
    }

    pub(super) fn expected(&self, what: &str) -> ScenarioError {
        self.error(format!("expected {what}, found {}", self.node.type_name()))
    }

    pub(super) fn str(&self) -> Result<&'a str> {
        self.node
            .value()
            .and_then(Value::as_str)
            .ok_or_else(|| self.expected("a string"))
    }

    pub(super) fn non_empty_str(&self) -> Result<&'a str> {
        match self.str()? {
            "" => Err(self.error("must not be empty")),
            text => Ok(text),
        }
    }

    pub(super) fn int(&self) -> Result<i64> {
        self.node
            .value()
            .and_then(Value::as_integer)
            .ok_or_else(|| self.expected("an integer"))
    }

    pub(super) fn int_in(&self, min: i64, max: i64) -> Result<i64> {
        let value = self.int()?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.error(format!(
                "expected an integer in {}, found {value}",
                range(min, max)
            )))
        }
    }

    pub(super) fn bool(&self) -> Result<bool> {
        match self.node.value() {
            Some(Value::Boolean(value)) => Ok(*value.value()),
            Some(Value::String(text)) if ["true", "false"].contains(&text.value().as_str()) => {
                Err(self.error("expected a boolean (true or false, without quotes), found string"))
            }
            _ => Err(self.expected("a boolean")),
        }
    }

    /// A number; integers are accepted where a float is expected.
    pub(super) fn float(&self) -> Result<f64> {
        match self.node.value() {
            Some(Value::Float(value)) => Ok(*value.value()),
            Some(Value::Integer(value)) => Ok(*value.value() as f64),
            _ => Err(self.expected("a number")),
        }
    }

    pub(super) fn duration_ms(&self) -> Result<u64> {
        parse_duration_ms(self.str()?).map_err(|message| self.error(message))
    }

    pub(super) fn positive_duration_ms(&self) -> Result<u64> {
        match self.duration_ms()? {
            0 => Err(self.error("must be a positive duration, found 0")),
            ms => Ok(ms),
        }
    }

    pub(super) fn table(&self) -> Result<Obj<'a>> {
        let table = self
            .node
            .table_like()
            .ok_or_else(|| self.expected("a table"))?;
        Ok(Obj {
            source: self.source,
            table,
            path: self.path.clone(),
            span: self.span.clone(),
        })
    }

    pub(super) fn array(&self) -> Result<Vec<Field<'a>>> {
        let array = self
            .node
            .value()
            .and_then(Value::as_array)
            .ok_or_else(|| self.expected("an array"))?;
        let element = |(index, value): (usize, &'a Value)| Field {
            source: self.source,
            node: Node::Value(value),
            path: format!("{}[{index}]", self.path),
            span: value.span().or_else(|| self.span.clone()),
        };
        Ok(array.iter().enumerate().map(element).collect())
    }

    /// An array of tables, written either as `[[name]]` sections or as an array of inline
    /// tables.
    pub(super) fn tables(&self) -> Result<Vec<Obj<'a>>> {
        let Node::Item(Item::ArrayOfTables(array)) = self.node else {
            return self.array()?.iter().map(Field::table).collect();
        };
        let element = |(index, table): (usize, &'a toml_edit::Table)| Obj {
            source: self.source,
            table: table as &dyn TableLike,
            path: format!("{}[{index}]", self.path),
            span: table.span().or_else(|| self.span.clone()),
        };
        Ok(array.iter().enumerate().map(element).collect())
    }
}

pub(super) fn range(min: i64, max: i64) -> String {
    if max == i64::MAX {
        format!(">= {min}")
    } else {
        format!("{min}..={max}")
    }
}

/// A table with its location and field path.
pub(super) struct Obj<'a> {
    pub(super) source: &'a Source<'a>,
    /// A `[table]`, an `[[array]]` element or an inline `{ table }` alike.
    pub(super) table: &'a dyn TableLike,
    /// Dotted path for messages; empty for the document itself.
    pub(super) path: String,
    /// The table's header or braces, for errors about a missing key.
    pub(super) span: Option<Range<usize>>,
}

impl<'a> Obj<'a> {
    pub(super) fn error(&self, message: impl Into<String>) -> ScenarioError {
        self.source
            .error(self.span.clone(), &self.path, message, None)
    }

    /// Every entry, in file order, as located fields.
    pub(super) fn fields(&self) -> Vec<(&'a str, Field<'a>)> {
        let table: &'a dyn TableLike = self.table;
        table
            .iter()
            .map(|(key, item)| (key, self.field(key, item)))
            .collect()
    }

    pub(super) fn field(&self, key: &str, item: &'a Item) -> Field<'a> {
        let key_span = self.table.key(key).and_then(|key| key.span());
        Field {
            source: self.source,
            node: Node::Item(item),
            path: join_path(&self.path, key),
            span: item.span().or(key_span).or_else(|| self.span.clone()),
        }
    }

    /// The location of a key itself, for errors about the key rather than its value.
    pub(super) fn key_error(
        &self,
        key: &str,
        message: String,
        suggestion: Option<String>,
    ) -> ScenarioError {
        let span = self
            .table
            .key(key)
            .and_then(|key| key.span())
            .or_else(|| self.span.clone());
        self.source
            .error(span, &join_path(&self.path, key), message, suggestion)
    }

    /// Rejects any key not in `allowed`, suggesting the nearest allowed one.
    pub(super) fn check_keys(&self, what: &str, allowed: &[&str]) -> Result<()> {
        let table: &'a dyn TableLike = self.table;
        match table.iter().find(|(key, _)| !allowed.contains(key)) {
            None => Ok(()),
            Some((key, _)) => {
                let message = format!(
                    "unknown key `{key}` in {what} (expected one of: {})",
                    allowed.join(", ")
                );
                let suggestion = did_you_mean(key, allowed).map(str::to_string);
                Err(self.key_error(key, message, suggestion))
            }
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<Field<'a>> {
        let table: &'a dyn TableLike = self.table;
        table
            .get(key)
            .filter(|item| !item.is_none())
            .map(|item| self.field(key, item))
    }

    pub(super) fn required(&self, key: &str, expected: &str) -> Result<Field<'a>> {
        self.get(key).ok_or_else(|| {
            let field = join_path(&self.path, key);
            let message = format!("missing required key `{key}` ({expected})");
            self.source.error(self.span.clone(), &field, message, None)
        })
    }
}
