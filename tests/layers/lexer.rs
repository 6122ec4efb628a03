//! A small Rust lexer: just enough to see paths in code and never in comments, doc comments
//! (so doc tests are skipped too), string or character literals.

/// One token with the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An identifier or keyword (`r#` of a raw identifier removed).
    Ident(String),
    /// `::`
    PathSep,
    /// A string literal's raw text between its quotes (escapes left as written): only
    /// `#[path = "..."]` needs it.
    Str(String),
    /// Any other punctuation character; `'` of a lifetime is dropped.
    Punct(char),
    /// A number or character literal; the value is never needed.
    Literal,
}

impl Token {
    pub fn is_ident(&self, name: &str) -> bool {
        matches!(&self.kind, Kind::Ident(s) if s == name)
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    pub fn ident(&self) -> Option<&str> {
        match &self.kind {
            Kind::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// Splits Rust source into tokens. Unterminated comments or literals end the input rather
/// than fail: the compiler has accepted every file this reads.
pub fn tokenize(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
        line: 1,
    };
    let mut out = Vec::new();
    while let Some(t) = lexer.next_token() {
        out.push(t);
    }
    out
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    line: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn next_token(&mut self) -> Option<Token> {
        loop {
            let c = self.peek(0)?;
            let line = self.line;
            let kind = match c {
                c if c.is_whitespace() => {
                    self.bump();
                    continue;
                }
                '/' if self.peek(1) == Some('/') => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                    continue;
                }
                '/' if self.peek(1) == Some('*') => {
                    self.block_comment();
                    continue;
                }
                '"' => {
                    self.bump();
                    Kind::Str(self.quoted())
                }
                'r' if self.raw_string_ahead(1) => {
                    self.bump();
                    Kind::Str(self.raw_string())
                }
                'b' | 'c' if self.peek(1) == Some('"') => {
                    self.bump();
                    self.bump();
                    Kind::Str(self.quoted())
                }
                'b' | 'c' if self.peek(1) == Some('r') && self.raw_string_ahead(2) => {
                    self.bump();
                    self.bump();
                    Kind::Str(self.raw_string())
                }
                'b' if self.peek(1) == Some('\'') => {
                    self.bump();
                    self.char_or_lifetime()
                }
                'r' if self.peek(1) == Some('#') && self.peek(2).is_some_and(is_ident_start) => {
                    self.bump();
                    self.bump();
                    Kind::Ident(self.ident())
                }
                c if is_ident_start(c) => Kind::Ident(self.ident()),
                c if c.is_ascii_digit() => {
                    // Digits, suffixes, `_`, exponents; a `.` only when a digit follows, so
                    // `0..n` and `x.0.1` split as they should.
                    while let Some(c) = self.peek(0) {
                        let fraction = c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit());
                        if !(c.is_alphanumeric() || c == '_' || fraction) {
                            break;
                        }
                        self.bump();
                    }
                    Kind::Literal
                }
                '\'' => self.char_or_lifetime(),
                ':' if self.peek(1) == Some(':') => {
                    self.bump();
                    self.bump();
                    Kind::PathSep
                }
                c => {
                    self.bump();
                    Kind::Punct(c)
                }
            };
            if kind == Kind::Punct('\'') {
                continue;
            }
            return Some(Token { kind, line });
        }
    }

    /// Block comments nest in Rust.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            if c == '/' && self.peek(1) == Some('*') {
                depth += 1;
                self.bump();
            } else if c == '*' && self.peek(1) == Some('/') {
                depth -= 1;
                self.bump();
                if depth == 0 {
                    self.bump();
                    return;
                }
            }
            self.bump();
        }
    }

    /// After the opening `"`: up to the closing one, escapes skipped over.
    fn quoted(&mut self) -> String {
        let mut text = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => {
                    text.push(c);
                    if let Some(e) = self.bump() {
                        text.push(e);
                    }
                }
                c => text.push(c),
            }
        }
        text
    }

    /// Whether `r"` or `r#…#"` starts `at` characters ahead (just after the `r`).
    fn raw_string_ahead(&self, at: usize) -> bool {
        let mut i = at;
        while self.peek(i) == Some('#') {
            i += 1;
        }
        self.peek(i) == Some('"')
    }

    /// At the `#`s or `"` after `r`: up to `"` followed by as many `#`s.
    fn raw_string(&mut self) -> String {
        let mut hashes = 0;
        while self.peek(0) == Some('#') {
            hashes += 1;
            self.bump();
        }
        self.bump();
        let mut text = String::new();
        while let Some(c) = self.bump() {
            if c == '"' && (0..hashes).all(|i| self.peek(i) == Some('#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                break;
            }
            text.push(c);
        }
        text
    }

    /// At a `'`: a character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime / label
    /// (`'a`, `'static`), whose quote is dropped so the name lexes as an identifier.
    fn char_or_lifetime(&mut self) -> Kind {
        self.bump();
        if self.peek(0) == Some('\\') {
            while let Some(c) = self.bump() {
                if c == '\\' {
                    self.bump();
                } else if c == '\'' {
                    break;
                }
            }
            return Kind::Literal;
        }
        if self.peek(1) == Some('\'') {
            self.bump();
            self.bump();
            return Kind::Literal;
        }
        Kind::Punct('\'')
    }

    fn ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0) {
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            s.push(c);
            self.bump();
        }
        s
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}
