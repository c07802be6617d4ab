//! The attribute's arguments: `flavor`, `worker_threads` and `crate`, parsed and checked.

use proc_macro2::Span;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Meta, Token};

/// Which attribute is being expanded; it decides the default flavour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[weft::main]`: multi-threaded by default.
    Main,
    /// `#[weft::test]`: current-thread by default, so each test stays on its own thread.
    Test,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Main => "weft::main",
            Kind::Test => "weft::test",
        }
    }
}

/// The runtime flavour, one per `Builder` constructor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    MultiThread,
    CurrentThread,
    ThreadPerCore,
}

impl Flavor {
    const NAMES: &'static str = "\"multi_thread\", \"current_thread\" or \"thread_per_core\"";

    fn from_name(name: &str) -> Option<Flavor> {
        match name {
            "multi_thread" => Some(Flavor::MultiThread),
            "current_thread" => Some(Flavor::CurrentThread),
            "thread_per_core" => Some(Flavor::ThreadPerCore),
            _ => None,
        }
    }

    /// The name of the `Builder` constructor this flavour starts from.
    pub(crate) fn constructor(self) -> &'static str {
        match self {
            Flavor::MultiThread => "new_multi_thread",
            Flavor::CurrentThread => "new_current_thread",
            Flavor::ThreadPerCore => "thread_per_core",
        }
    }
}

/// The checked arguments of one attribute.
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) flavor: Flavor,
    /// `worker_threads = N`, with the literal kept so its span reaches the expansion.
    pub(crate) worker_threads: Option<syn::LitInt>,
    /// The path that names the weft facade; `::weft` unless `crate = "..."` says otherwise.
    pub(crate) crate_path: syn::Path,
}

const KNOWN: &str = "`flavor`, `worker_threads` or `crate`";

/// Parses `flavor = "..", worker_threads = N, crate = ".."`, collecting every mistake
/// (not only the first) into one error.
pub(crate) fn parse(kind: Kind, args: proc_macro2::TokenStream) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;

    let mut errors: Option<syn::Error> = None;
    let mut push = |error: syn::Error| match &mut errors {
        Some(all) => all.combine(error),
        None => errors = Some(error),
    };

    let mut flavor: Option<(Flavor, Span)> = None;
    let mut worker_threads: Option<syn::LitInt> = None;
    let mut crate_path: Option<syn::Path> = None;

    for meta in metas {
        let name_value = match meta {
            Meta::NameValue(name_value) => name_value,
            other => {
                let name = path_name(other.path());
                push(syn::Error::new(
                    other.span(),
                    format!(
                        "expected `name = value` in `#[{}(..)]`, found `{name}`; the options are {KNOWN}",
                        kind.name()
                    ),
                ));
                continue;
            }
        };
        let name = path_name(&name_value.path);
        let value = &name_value.value;
        match name.as_str() {
            "flavor" => {
                if flavor.is_some() {
                    push(duplicate(&name_value.path, &name));
                    continue;
                }
                match string_literal(value) {
                    Some(text) => match Flavor::from_name(&text.value()) {
                        Some(parsed) => flavor = Some((parsed, text.span())),
                        None => push(syn::Error::new(
                            text.span(),
                            format!(
                                "unknown runtime flavor `{}`; expected {}",
                                text.value(),
                                Flavor::NAMES
                            ),
                        )),
                    },
                    None => push(syn::Error::new(
                        value.span(),
                        format!("`flavor` takes a string literal: {}", Flavor::NAMES),
                    )),
                }
            }
            "worker_threads" => {
                if worker_threads.is_some() {
                    push(duplicate(&name_value.path, &name));
                    continue;
                }
                match value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Int(int), ..
                    }) => match int.base10_parse::<usize>() {
                        Ok(0) => push(syn::Error::new(
                            int.span(),
                            "`worker_threads` must be at least 1",
                        )),
                        Ok(_) => worker_threads = Some(int.clone()),
                        Err(error) => push(error),
                    },
                    _ => push(syn::Error::new(
                        value.span(),
                        "`worker_threads` takes an integer literal, like `worker_threads = 4`",
                    )),
                }
            }
            "crate" => {
                if crate_path.is_some() {
                    push(duplicate(&name_value.path, &name));
                    continue;
                }
                match string_literal(value) {
                    Some(text) => match text.parse::<syn::Path>() {
                        Ok(path) => crate_path = Some(path),
                        Err(_) => push(syn::Error::new(
                            text.span(),
                            format!(
                                "`crate` takes a path to the weft facade, like `crate = \"my_reexport::weft\"`; `{}` is not a path",
                                text.value()
                            ),
                        )),
                    },
                    None => push(syn::Error::new(
                        value.span(),
                        "`crate` takes a string literal holding a path, like `crate = \"my_reexport::weft\"`",
                    )),
                }
            }
            _ => push(syn::Error::new(
                name_value.path.span(),
                format!(
                    "unknown option `{name}` in `#[{}(..)]`; the options are {KNOWN}",
                    kind.name()
                ),
            )),
        }
    }

    let flavor = match flavor {
        Some((flavor, _)) => flavor,
        None => match kind {
            Kind::Main => Flavor::MultiThread,
            Kind::Test => Flavor::CurrentThread,
        },
    };
    if flavor == Flavor::CurrentThread
        && let Some(int) = &worker_threads
    {
        push(syn::Error::new(
            int.span(),
            "`worker_threads` has no meaning with the current_thread flavor, which runs \
             every task on the calling thread; drop it, or use `flavor = \"multi_thread\"`",
        ));
    }

    match errors {
        Some(errors) => Err(errors),
        None => Ok(Options {
            flavor,
            worker_threads,
            crate_path: crate_path.unwrap_or_else(|| syn::parse_quote!(::weft)),
        }),
    }
}

fn path_name(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

fn string_literal(value: &Expr) -> Option<&syn::LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => Some(text),
        _ => None,
    }
}

fn duplicate(path: &syn::Path, name: &str) -> syn::Error {
    syn::Error::new(path.span(), format!("`{name}` is given more than once"))
}
