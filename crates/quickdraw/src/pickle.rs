//! A small, streaming decoder of the pickles numpy writes for object arrays of numeric
//! arrays (what `np.savez` stores for sketch-rnn's lists of `(n, 3)` int16 drawings).
//!
//! It runs the pickle virtual machine over the opcodes of protocols 2–5 that such pickles
//! use, and understands only the four callables they name: `numpy…multiarray._reconstruct`,
//! `numpy.ndarray`, `numpy.dtype` and `_codecs.encode` (Python 3's way of writing the bytes of
//! a Python 2 array, as in the `numpy.core._multiarray_umath` variant). Anything else is an
//! error rather than a guess. Two variants are seen in the wild: Python 2 pickles
//! (`numpy.core.multiarray`, data as `BINSTRING`) and Python 3 ones (data as latin-1 text
//! re-encoded through `_codecs.encode`); both are tested.
//!
//! Streaming: every numeric ("leaf") array is handed out as soon as its `BUILD` completes and
//! is replaced on the stack by a placeholder, and long strings are not kept in the memo
//! (numpy never refers back to them), so memory stays at one drawing whatever the file size.

use std::io::BufRead;

/// Longest string or bytes object accepted; a larger length is a corrupt file.
const MAX_STRING: u64 = 1 << 30;
/// Bytes read at a time into a long string (see `blob`).
const BLOB_CHUNK: usize = 64 * 1024;
/// Memo entries longer than this are not kept (see the module doc).
const MEMO_KEEP: usize = 1024;

/// A numeric array decoded from the pickle.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leaf {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub fortran: bool,
    pub data: Vec<u8>,
}

/// The parts of a numpy dtype that matter for reading numbers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dtype {
    /// `b'i'`, `b'u'`, `b'f'`, `b'b'` (bool) or `b'O'` (object).
    pub kind: u8,
    pub size: usize,
    pub big_endian: bool,
}

impl Dtype {
    fn parse(name: &str) -> Option<Dtype> {
        let name = name.trim_start_matches(['<', '>', '|', '=']);
        let (kind, size) = name.split_at(1.min(name.len()));
        let kind = *kind.as_bytes().first()?;
        let size: usize = size.parse().ok()?;
        matches!(kind, b'i' | b'u' | b'f' | b'b' | b'O').then_some(Dtype {
            kind,
            size,
            big_endian: false,
        })
    }

    /// Reads element `i` of `data` as f64; `None` for kinds and sizes that are not numbers.
    pub fn get(&self, data: &[u8], i: usize) -> Option<f64> {
        let b = data.get(i * self.size..(i + 1) * self.size)?;
        let mut buf = [0u8; 8];
        buf[..self.size].copy_from_slice(b);
        if self.big_endian {
            buf[..self.size].reverse();
        }
        Some(match (self.kind, self.size) {
            (b'i', 1) => f64::from(buf[0] as i8),
            (b'i', 2) => f64::from(i16::from_le_bytes([buf[0], buf[1]])),
            (b'i', 4) => f64::from(i32::from_le_bytes(buf[..4].try_into().ok()?)),
            (b'i', 8) => i64::from_le_bytes(buf) as f64,
            (b'u' | b'b', 1) => f64::from(buf[0]),
            (b'u', 2) => f64::from(u16::from_le_bytes([buf[0], buf[1]])),
            (b'u', 4) => f64::from(u32::from_le_bytes(buf[..4].try_into().ok()?)),
            (b'u', 8) => u64::from_le_bytes(buf) as f64,
            (b'f', 4) => f64::from(f32::from_le_bytes(buf[..4].try_into().ok()?)),
            (b'f', 8) => f64::from_le_bytes(buf),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Callable {
    Reconstruct,
    Ndarray,
    Dtype,
    CodecsEncode,
}

#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// A float (its value is never needed).
    Float,
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(Option<Callable>, String),
    /// Index into the dtype arena: dtypes are shared through the memo and changed by BUILD.
    Dtype(usize),
    /// An ndarray awaiting its BUILD.
    NewArray,
    /// A numeric array already handed out.
    Emitted,
    /// The top-level object array, complete, with its element count.
    ObjectArray(usize),
    /// A long memo entry that was not kept.
    Dropped,
}

impl Value {
    fn text(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            // Python 2 strings (BINSTRING) arrive as bytes
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
    fn describe(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float => "a float",
            Value::Str(_) => "a str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(..) => "a class or function",
            Value::Dtype(_) => "a dtype",
            Value::NewArray | Value::Emitted | Value::ObjectArray(_) => "an ndarray",
            Value::Dropped => "a long string",
        }
    }
}

/// What the decoder stopped at.
#[derive(Debug, PartialEq)]
pub(crate) enum Event {
    Leaf(Leaf),
    /// The pickle ended (STOP) after an object array of this many leaves.
    End(usize),
}

/// A decoding error and the byte offset (in the pickle stream) where it was found.
#[derive(Debug)]
pub(crate) struct PickleError {
    pub offset: u64,
    pub message: String,
    /// The underlying read failed (as opposed to the bytes being wrong).
    pub io: Option<std::io::Error>,
}

type Res<T> = Result<T, String>;

pub(crate) struct Decoder<R> {
    input: R,
    pos: u64,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, Value>,
    dtypes: Vec<Dtype>,
    emitted: usize,
    done: bool,
    io_error: Option<std::io::Error>,
}

impl<R: BufRead> Decoder<R> {
    pub fn new(input: R) -> Self {
        Decoder {
            input,
            pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Default::default(),
            dtypes: Vec::new(),
            emitted: 0,
            done: false,
            io_error: None,
        }
    }

    pub fn into_inner(self) -> R {
        self.input
    }

    /// Runs the machine to the next leaf array or to the end of the pickle.
    pub fn next_event(&mut self) -> Result<Event, PickleError> {
        if self.done {
            return Ok(Event::End(self.emitted));
        }
        loop {
            let at = self.pos;
            match self.step() {
                Ok(Some(ev)) => return Ok(ev),
                Ok(None) => {}
                Err(message) => {
                    self.done = true;
                    return Err(PickleError {
                        offset: at,
                        message,
                        io: self.io_error.take(),
                    });
                }
            }
        }
    }

    fn byte(&mut self) -> Res<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Res<()> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err("the pickle ends early (truncated data)".into())
            }
            Err(e) => {
                let msg = format!("read failed: {e}");
                self.io_error = Some(e);
                Err(msg)
            }
        }
    }

    fn le<const N: usize>(&mut self) -> Res<[u8; N]> {
        let mut b = [0u8; N];
        self.read_exact(&mut b)?;
        Ok(b)
    }

    fn blob(&mut self, len: u64) -> Res<Vec<u8>> {
        if len > MAX_STRING {
            return Err(format!("a string of {len} bytes is too long"));
        }
        // read in chunks, so that the buffer grows with the bytes actually there: a length
        // field of a corrupt pickle must not allocate a gigabyte up front (found by fuzzing)
        let mut v = Vec::new();
        let mut left = len as usize;
        while left > 0 {
            let k = left.min(BLOB_CHUNK);
            let at = v.len();
            v.resize(at + k, 0);
            self.read_exact(&mut v[at..])?;
            left -= k;
        }
        Ok(v)
    }

    fn line(&mut self) -> Res<String> {
        let mut v = Vec::new();
        loop {
            match self.byte()? {
                b'\n' => break,
                b if v.len() < 256 => v.push(b),
                _ => return Err("an overlong GLOBAL name".into()),
            }
        }
        String::from_utf8(v).map_err(|_| "a GLOBAL name that is not UTF-8".into())
    }

    fn pop(&mut self) -> Res<Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("stack underflow (pop past a MARK)".into());
        }
        self.stack.pop().ok_or_else(|| "stack underflow".into())
    }

    fn pop_mark(&mut self) -> Res<Vec<Value>> {
        let m = self.marks.pop().ok_or("no MARK on the stack")?;
        Ok(self.stack.split_off(m))
    }

    fn top(&mut self) -> Res<&mut Value> {
        self.stack
            .last_mut()
            .ok_or_else(|| "stack underflow".into())
    }

    fn memo_put(&mut self, key: u32) -> Res<()> {
        let v = match self.stack.last().ok_or("MEMO on an empty stack")? {
            Value::Str(s) if s.len() > MEMO_KEEP => Value::Dropped,
            Value::Bytes(b) if b.len() > MEMO_KEEP => Value::Dropped,
            v => v.clone(),
        };
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Res<()> {
        match self.memo.get(&key) {
            Some(Value::Dropped) => Err(format!(
                "memo entry {key} is a long string this decoder does not keep"
            )),
            Some(v) => {
                let v = v.clone();
                self.stack.push(v);
                Ok(())
            }
            None => Err(format!("memo entry {key} is not defined")),
        }
    }

    fn step(&mut self) -> Res<Option<Event>> {
        let op = self.byte()?;
        match op {
            0x80 => {
                let proto = self.byte()?;
                if proto > 5 {
                    return Err(format!("pickle protocol {proto} is not supported"));
                }
            }
            0x95 => {
                self.le::<8>()?; // FRAME: only a read-ahead hint
            }
            b'.' => {
                self.done = true;
                return match self.stack.as_slice() {
                    [Value::ObjectArray(n)] => Ok(Some(Event::End(*n))),
                    [v] => Err(format!(
                        "the pickle holds {}, not an object array",
                        v.describe()
                    )),
                    _ => Err(format!(
                        "the pickle ends with {} values on the stack",
                        self.stack.len()
                    )),
                };
            }
            b'(' => self.marks.push(self.stack.len()),
            b'N' => self.stack.push(Value::None),
            0x88 => self.stack.push(Value::Bool(true)),
            0x89 => self.stack.push(Value::Bool(false)),
            b'J' => {
                let v = i32::from_le_bytes(self.le()?);
                self.stack.push(Value::Int(v.into()))
            }
            b'K' => {
                let v = self.byte()?;
                self.stack.push(Value::Int(v.into()))
            }
            b'M' => {
                let v = u16::from_le_bytes(self.le()?);
                self.stack.push(Value::Int(v.into()))
            }
            0x8a => {
                let n = self.byte()? as usize;
                if n > 8 {
                    return Err(format!("a LONG1 of {n} bytes does not fit 64 bits"));
                }
                let b = self.blob(n as u64)?;
                let mut buf = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                    [0xff; 8]
                } else {
                    [0; 8]
                };
                buf[..n].copy_from_slice(&b);
                self.stack.push(Value::Int(i64::from_le_bytes(buf)))
            }
            b'G' => {
                self.le::<8>()?;
                self.stack.push(Value::Float)
            }
            b'U' | b'C' => {
                let n = self.byte()?;
                let b = self.blob(n.into())?;
                self.stack.push(Value::Bytes(b))
            }
            b'T' => {
                let n = i32::from_le_bytes(self.le()?);
                let n = u64::try_from(n).map_err(|_| "a negative string length")?;
                let b = self.blob(n)?;
                self.stack.push(Value::Bytes(b))
            }
            b'B' => {
                let n = u32::from_le_bytes(self.le()?);
                let b = self.blob(n.into())?;
                self.stack.push(Value::Bytes(b))
            }
            0x8e | 0x96 => {
                let n = u64::from_le_bytes(self.le()?);
                let b = self.blob(n)?;
                self.stack.push(Value::Bytes(b))
            }
            0x8c | b'X' | 0x8d => {
                let n = match op {
                    0x8c => u64::from(self.byte()?),
                    b'X' => u64::from(u32::from_le_bytes(self.le()?)),
                    _ => u64::from_le_bytes(self.le()?),
                };
                let b = self.blob(n)?;
                let s = String::from_utf8(b).map_err(|_| "a unicode string that is not UTF-8")?;
                self.stack.push(Value::Str(s))
            }
            b')' => self.stack.push(Value::Tuple(Vec::new())),
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop()?);
                }
                items.reverse();
                self.stack.push(Value::Tuple(items))
            }
            b't' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::Tuple(items))
            }
            b']' => self.stack.push(Value::List(Vec::new())),
            b'l' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::List(items))
            }
            b'a' => {
                let v = self.pop()?;
                match self.top()? {
                    Value::List(l) => l.push(v),
                    other => return Err(format!("APPEND to {}", other.describe())),
                }
            }
            b'e' => {
                let items = self.pop_mark()?;
                match self.top()? {
                    Value::List(l) => l.extend(items),
                    other => return Err(format!("APPENDS to {}", other.describe())),
                }
            }
            b'}' => self.stack.push(Value::Dict(Vec::new())),
            b'd' => {
                let items = self.pop_mark()?;
                let d = pairs(items)?;
                self.stack.push(Value::Dict(d))
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                match self.top()? {
                    Value::Dict(d) => d.push((k, v)),
                    other => return Err(format!("SETITEM on {}", other.describe())),
                }
            }
            b'u' => {
                let items = self.pop_mark()?;
                let kv = pairs(items)?;
                match self.top()? {
                    Value::Dict(d) => d.extend(kv),
                    other => return Err(format!("SETITEMS on {}", other.describe())),
                }
            }
            b'q' => {
                let k = self.byte()?;
                self.memo_put(k.into())?
            }
            b'r' => {
                let k = u32::from_le_bytes(self.le()?);
                self.memo_put(k)?
            }
            0x94 => {
                let k = u32::try_from(self.memo.len()).map_err(|_| "memo overflow")?;
                self.memo_put(k)?
            }
            b'h' => {
                let k = self.byte()?;
                self.memo_get(k.into())?
            }
            b'j' => {
                let k = u32::from_le_bytes(self.le()?);
                self.memo_get(k)?
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.stack.push(global(&module, &name))
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Some(m), Some(n)) = (module.text(), name.text()) else {
                    return Err("STACK_GLOBAL of non-strings".into());
                };
                let g = global(m, n);
                self.stack.push(g)
            }
            b'R' => {
                let args = self.pop()?;
                let f = self.pop()?;
                let v = self.reduce(f, args)?;
                self.stack.push(v)
            }
            b'b' => {
                let state = self.pop()?;
                let target = self.pop()?;
                let (v, ev) = self.build(target, state)?;
                self.stack.push(v);
                return Ok(ev);
            }
            b'0' => {
                self.pop()?;
            }
            b'2' => {
                let v = self.top()?.clone();
                self.stack.push(v)
            }
            b'1' => {
                self.pop_mark()?;
            }
            other => {
                return Err(format!(
                    "opcode 0x{other:02x} ({:?}) is not one numpy uses for object arrays",
                    char::from(other)
                ))
            }
        }
        Ok(None)
    }

    fn reduce(&mut self, f: Value, args: Value) -> Res<Value> {
        let Value::Global(callable, name) = f else {
            return Err(format!("REDUCE calls {}", f.describe()));
        };
        let Value::Tuple(args) = args else {
            return Err(format!(
                "{name} called with {} for arguments",
                args.describe()
            ));
        };
        match callable {
            Some(Callable::CodecsEncode) => match args.as_slice() {
                [Value::Str(s), enc] if matches!(enc.text(), Some("latin1" | "latin-1")) => s
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).map_err(|_| "non-latin-1 text".into()))
                    .collect::<Res<Vec<u8>>>()
                    .map(Value::Bytes),
                _ => Err("_codecs.encode with arguments other than (str, 'latin1')".into()),
            },
            Some(Callable::Reconstruct) => match args.first() {
                Some(Value::Global(Some(Callable::Ndarray), _)) => Ok(Value::NewArray),
                _ => Err("_reconstruct of something other than numpy.ndarray".into()),
            },
            Some(Callable::Dtype) => {
                let name = args
                    .first()
                    .and_then(Value::text)
                    .ok_or("dtype without a name")?;
                let d = Dtype::parse(name).ok_or_else(|| format!("unsupported dtype {name:?}"))?;
                self.dtypes.push(d);
                Ok(Value::Dtype(self.dtypes.len() - 1))
            }
            Some(Callable::Ndarray) | None => Err(format!("calling {name} is not supported")),
        }
    }

    fn build(&mut self, target: Value, state: Value) -> Res<(Value, Option<Event>)> {
        let Value::Tuple(mut state) = state else {
            return Err(format!("BUILD with {} as state", state.describe()));
        };
        match target {
            Value::Dtype(i) => {
                // (version, byte order, subarray, names, fields, elsize, alignment, flags)
                let order = state.get(1).and_then(Value::text).unwrap_or("|");
                self.dtypes[i].big_endian = order == ">";
                Ok((Value::Dtype(i), None))
            }
            Value::NewArray => {
                // (version, shape, dtype, fortran, data); version 0 pickles omit the version
                if state.len() == 5 {
                    state.remove(0);
                }
                let [shape, dtype, fortran, data]: [Value; 4] = state
                    .try_into()
                    .map_err(|s: Vec<Value>| format!("ndarray state of {} items", s.len()))?;
                let shape = match shape {
                    Value::Tuple(dims) => dims
                        .iter()
                        .map(|d| match d {
                            Value::Int(n) => usize::try_from(*n).map_err(|_| "negative dim".into()),
                            _ => Err("a non-integer dimension".to_string()),
                        })
                        .collect::<Res<Vec<usize>>>()?,
                    _ => return Err("ndarray shape is not a tuple".into()),
                };
                let Value::Dtype(di) = dtype else {
                    return Err(format!("ndarray dtype is {}", dtype.describe()));
                };
                let dtype = self.dtypes[di].clone();
                let fortran = matches!(fortran, Value::Bool(true) | Value::Int(1));
                let count: usize = shape.iter().product();
                match data {
                    Value::Bytes(data) if dtype.kind != b'O' => {
                        if data.len() != count * dtype.size {
                            return Err(format!(
                                "an array of shape {shape:?} holds {} bytes, not {}",
                                data.len(),
                                count * dtype.size
                            ));
                        }
                        self.emitted += 1;
                        let leaf = Leaf {
                            shape,
                            dtype,
                            fortran,
                            data,
                        };
                        Ok((Value::Emitted, Some(Event::Leaf(leaf))))
                    }
                    Value::List(items) if dtype.kind == b'O' => {
                        if items.len() != count {
                            return Err(format!(
                                "an object array of shape {shape:?} lists {} items",
                                items.len()
                            ));
                        }
                        if let Some((i, v)) = items
                            .iter()
                            .enumerate()
                            .find(|(_, v)| !matches!(v, Value::Emitted))
                        {
                            return Err(format!(
                                "item {i} of the object array is {}, not a numeric array",
                                v.describe()
                            ));
                        }
                        Ok((Value::ObjectArray(items.len()), None))
                    }
                    other => Err(format!(
                        "an array of dtype kind {:?} with {} as data",
                        char::from(dtype.kind),
                        other.describe()
                    )),
                }
            }
            other => Err(format!("BUILD on {}", other.describe())),
        }
    }
}

fn pairs(items: Vec<Value>) -> Res<Vec<(Value, Value)>> {
    // (`is_multiple_of` is newer than the workspace's rust-version)
    #[allow(clippy::manual_is_multiple_of)]
    if items.len() % 2 != 0 {
        return Err("an odd number of dict items".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn global(module: &str, name: &str) -> Value {
    let callable = match (module, name) {
        (
            "numpy.core.multiarray"
            | "numpy.core._multiarray_umath"
            | "numpy._core.multiarray"
            | "numpy._core._multiarray_umath",
            "_reconstruct",
        ) => Some(Callable::Reconstruct),
        ("numpy", "ndarray") => Some(Callable::Ndarray),
        ("numpy", "dtype") => Some(Callable::Dtype),
        ("_codecs", "encode") => Some(Callable::CodecsEncode),
        _ => None,
    };
    Value::Global(callable, format!("{module}.{name}"))
}

/// Writes pickles the way numpy does, in either variant, for tests here and in `npz` and for
/// the fuzzing harness's seeds (at most 255 rows a drawing, 65,535 drawings).
#[cfg(any(test, feature = "fuzz"))]
pub(crate) fn numpy_pickle(arrays: &[Vec<[i16; 3]>], py3: bool) -> Vec<u8> {
    let mut p = vec![0x80, 2];
    let module = if py3 {
        "numpy.core._multiarray_umath"
    } else {
        "numpy.core.multiarray"
    };
    let text = |p: &mut Vec<u8>, s: &str| {
        if py3 {
            p.push(b'X');
            p.extend((s.len() as u32).to_le_bytes());
        } else {
            p.push(b'U');
            p.push(s.len() as u8);
        }
        p.extend(s.as_bytes());
    };
    // the first call names the globals and memoises them; later ones fetch them
    p.extend(format!("c{module}\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01").as_bytes());
    p.extend(b"K\x00\x85");
    text(&mut p, "b");
    p.extend(b"\x87R");
    // _reconstruct(ndarray, (0,), b'b') for each drawing
    let reconstruct = |p: &mut Vec<u8>| {
        p.extend(b"h\x00h\x01K\x00\x85");
        text(p, "b");
        p.extend(b"\x87R");
    };
    p.extend(b"(K\x01");
    p.extend(b"M");
    p.extend((arrays.len() as u16).to_le_bytes());
    p.push(0x85);
    p.extend(b"cnumpy\ndtype\nq\x02");
    text(&mut p, "O8");
    p.extend(b"K\x00K\x01\x87R(K\x03");
    text(&mut p, "|");
    p.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89]q\x03(");
    for (i, a) in arrays.iter().enumerate() {
        reconstruct(&mut p);
        p.extend(b"(K\x01K");
        p.push(a.len() as u8);
        p.extend(b"K\x03\x86");
        if i == 0 {
            // the dtype is built once, memoised and fetched for later arrays
            p.extend(b"h\x02");
            text(&mut p, "i2");
            p.extend(b"K\x00K\x01\x87Rq\x04(K\x03");
            text(&mut p, "<");
            p.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
        } else {
            p.extend(b"h\x04");
        }
        p.push(0x89);
        let data: Vec<u8> = a.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
        if py3 {
            p.extend(b"c_codecs\nencode\n");
            let s: String = data.iter().map(|&b| char::from(b)).collect();
            text(&mut p, &s);
            p.extend(b"q\x05");
            text(&mut p, "latin1");
            p.extend(b"\x86R");
        } else {
            p.push(b'T');
            p.extend((data.len() as u32).to_le_bytes());
            p.extend(&data);
        }
        p.extend(b"tb");
    }
    p.extend(b"etb.");
    p
}

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use super::numpy_pickle;
    use super::*;

    fn drawings() -> Vec<Vec<[i16; 3]>> {
        vec![
            vec![[-11, -6, 0], [-26, 14, 1]],
            vec![[300, -1400, 0], [1, 2, 0], [3, 4, 1]],
            (0..200).map(|i| [i, -i, (i % 7 == 6) as i16]).collect(),
        ]
    }

    fn decode_all(bytes: &[u8]) -> Result<(Vec<Leaf>, usize), PickleError> {
        let mut d = Decoder::new(bytes);
        let mut leaves = Vec::new();
        loop {
            match d.next_event()? {
                Event::Leaf(l) => leaves.push(l),
                Event::End(n) => return Ok((leaves, n)),
            }
        }
    }

    #[test]
    fn decodes_both_numpy_variants() {
        for py3 in [false, true] {
            let (leaves, n) = decode_all(&numpy_pickle(&drawings(), py3)).unwrap();
            assert_eq!(n, 3);
            for (leaf, want) in leaves.iter().zip(drawings()) {
                assert_eq!(leaf.shape, vec![want.len(), 3]);
                assert_eq!(
                    leaf.dtype,
                    Dtype {
                        kind: b'i',
                        size: 2,
                        big_endian: false
                    }
                );
                let got: Vec<f64> = (0..want.len() * 3)
                    .map(|i| leaf.dtype.get(&leaf.data, i).unwrap())
                    .collect();
                let want: Vec<f64> = want.iter().flatten().map(|&v| v.into()).collect();
                assert_eq!(got, want, "py3={py3}");
            }
        }
    }

    #[test]
    fn truncated_and_foreign_pickles_fail() {
        let p = numpy_pickle(&drawings(), true);
        let e = decode_all(&p[..p.len() - 40]).unwrap_err();
        assert!(e.message.contains("ends early"), "{}", e.message);
        // a pickle of a plain Python list, not an ndarray
        let e = decode_all(b"\x80\x02]q\x00(K\x01K\x02e.").unwrap_err();
        assert!(e.message.contains("a list"), "{}", e.message);
        // an arbitrary callable is never called
        let e = decode_all(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.").unwrap_err();
        assert!(e.message.contains("os.system"), "{}", e.message);
        assert_eq!(e.offset, 21);
    }

    #[test]
    fn long_strings_are_not_memoised() {
        let mut d = Decoder::new(&b""[..]);
        d.stack.push(Value::Bytes(vec![0; MEMO_KEEP + 1]));
        d.memo_put(1).unwrap();
        assert!(matches!(d.memo.get(&1), Some(Value::Dropped)));
        assert!(d.memo_get(1).unwrap_err().contains("long string"));
    }

    #[test]
    fn dtype_reads_other_widths_and_orders() {
        let d = Dtype {
            kind: b'i',
            size: 2,
            big_endian: true,
        };
        assert_eq!(d.get(&[0xff, 0xfe], 0), Some(-2.0));
        let d = Dtype::parse("<f4").unwrap();
        assert_eq!(d.get(&1.5f32.to_le_bytes(), 0), Some(1.5));
        assert_eq!(Dtype::parse("S5"), None);
    }
}
