//! The expansion: an `async fn` becomes a sync fn that builds a runtime and blocks on
//! the body.
//!
//! Everything here works on `proc_macro2` tokens so the unit tests can run it outside
//! a macro invocation.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType};

use crate::options::{self, Kind, Options};

/// Expands one attribute. Never fails: a mistake becomes `compile_error!` tokens
/// followed by the function as written, so the compiler reports only our error and
/// not a cascade ("`main` not found", "unused function") after it.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(item);
            return tokens;
        }
    };
    match try_expand(kind, args, &function) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(quote!(#function));
            tokens
        }
    }
}

/// Checks the arguments and the function, then writes the sync replacement.
pub(crate) fn try_expand(
    kind: Kind,
    args: TokenStream,
    function: &ItemFn,
) -> syn::Result<TokenStream> {
    let checked_signature = check_signature(kind, function);
    let options = match (options::parse(kind, args), checked_signature) {
        (Ok(options), Ok(())) => options,
        (Err(mut first), Err(second)) => {
            first.combine(second);
            return Err(first);
        }
        (Err(error), Ok(())) | (Ok(_), Err(error)) => return Err(error),
    };
    Ok(write(kind, &options, function))
}

/// Every reason the function itself cannot be turned into a runtime entry point.
fn check_signature(kind: Kind, function: &ItemFn) -> syn::Result<()> {
    let signature = &function.sig;
    let mut errors: Vec<syn::Error> = Vec::new();

    if signature.asyncness.is_none() {
        errors.push(syn::Error::new(
            signature.fn_token.span(),
            format!(
                "`#[{}]` goes on an `async fn`; the `async` keyword is missing from this declaration",
                kind.name()
            ),
        ));
    }
    if !signature.inputs.is_empty() {
        let what = match kind {
            Kind::Main => "`main` takes no arguments",
            Kind::Test => "a test function takes no arguments",
        };
        errors.push(syn::Error::new(
            signature.inputs.span(),
            format!("{what}; `#[{}]` cannot pass any", kind.name()),
        ));
    }
    if !signature.generics.params.is_empty() || signature.generics.where_clause.is_some() {
        let what = match kind {
            Kind::Main => "`main` cannot be generic",
            Kind::Test => "a test function cannot be generic",
        };
        errors.push(syn::Error::new(
            signature.generics.span(),
            format!(
                "{what}: `#[{}]` calls it with no type to fill the parameters in",
                kind.name()
            ),
        ));
    }
    if kind == Kind::Test
        && let Some(attribute) = function.attrs.iter().find(|a| is_test_attribute(a))
    {
        errors.push(syn::Error::new(
            attribute.span(),
            "`#[weft::test]` already adds `#[test]`; a second one would register the test twice",
        ));
    }

    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(mut first) => {
            for error in errors {
                first.combine(error);
            }
            Err(first)
        }
    }
}

/// `#[test]` or a path ending in `prelude::<edition>::test`.
fn is_test_attribute(attribute: &syn::Attribute) -> bool {
    let segments: Vec<String> = attribute
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    match segments.as_slice() {
        [only] => only == "test",
        [.., prelude, _, last] => prelude == "prelude" && last == "test",
        _ => false,
    }
}

fn write(kind: Kind, options: &Options, function: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let weft = &options.crate_path;
    let constructor = format_ident!("{}", options.flavor.constructor());
    let worker_threads = options
        .worker_threads
        .as_ref()
        .map(|n| quote_spanned!(n.span()=> .worker_threads(#n)));
    let name = &sig.ident;
    let output = &sig.output;

    // The body's output type is written down for the async block: with `-> Result<..>`
    // and `?` inside, nothing else would tell the compiler which error type `?`
    // converts into.
    let output_type = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let test_attribute = match kind {
        Kind::Main => None,
        Kind::Test => Some(quote!(#[::core::prelude::v1::test])),
    };
    let expect = match kind {
        Kind::Main => "failed to build the weft runtime for `#[weft::main]`",
        Kind::Test => "failed to build the weft runtime for `#[weft::test]`",
    };

    // Errors about the runtime's construction (a missing `rt` module, a flavor the
    // runtime lacks) point at the body rather than at the call site of the macro.
    let run = quote_spanned! {block.span()=>
        #[allow(clippy::expect_used)]
        let runtime = #weft::rt::Builder::#constructor()
            #worker_threads
            .enable_all()
            .build()
            .expect(#expect);
        runtime.block_on(body)
    };

    quote! {
        #test_attribute
        #(#attrs)*
        #vis fn #name() #output {
            let body = async move #block;
            fn __weft_body_output<F>(body: F) -> F
            where
                F: ::core::future::Future<Output = #output_type>,
            {
                body
            }
            let body = __weft_body_output(body);
            #run
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(tokens: TokenStream) -> ItemFn {
        syn::parse2(tokens).expect("test input is a function")
    }

    /// The expansion with whitespace made canonical, so comparisons do not depend on
    /// how `quote` spaces its tokens.
    fn expanded(kind: Kind, args: TokenStream, item: TokenStream) -> String {
        let tokens = try_expand(kind, args, &function(item)).expect("expansion succeeds");
        normalize(&tokens.to_string())
    }

    /// One space between every two tokens, whatever `quote` or the source had.
    fn normalize(text: &str) -> String {
        let tokens: TokenStream = text.parse().expect("valid tokens");
        let mut words = Vec::new();
        flatten(tokens, &mut words);
        words.join(" ")
    }

    fn flatten(tokens: TokenStream, words: &mut Vec<String>) {
        use proc_macro2::{Delimiter, TokenTree};
        for token in tokens {
            match token {
                TokenTree::Group(group) => {
                    let (open, close) = match group.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    words.push(open.to_owned());
                    flatten(group.stream(), words);
                    words.push(close.to_owned());
                }
                TokenTree::Punct(punct) => words.push(punct.as_char().to_string()),
                other => words.push(other.to_string()),
            }
        }
        words.retain(|w| !w.is_empty());
    }

    fn error(kind: Kind, args: TokenStream, item: TokenStream) -> Vec<String> {
        match try_expand(kind, args, &function(item)) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn expected(text: &str) -> String {
        normalize(text)
    }

    #[test]
    fn main_defaults_to_multi_thread() {
        let got = expanded(
            Kind::Main,
            quote!(),
            quote!(
                async fn main() {
                    work().await;
                }
            ),
        );
        let want = expected(
            r#"
            fn main() {
                let body = async move { work().await; };
                fn __weft_body_output<F>(body: F) -> F
                where F: ::core::future::Future<Output = ()>,
                { body }
                let body = __weft_body_output(body);
                #[allow(clippy::expect_used)]
                let runtime = ::weft::rt::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .expect("failed to build the weft runtime for `#[weft::main]`");
                runtime.block_on(body)
            }
            "#,
        );
        assert_eq!(got, want);
    }

    #[test]
    fn main_keeps_its_return_type_and_attributes() {
        let got = expanded(
            Kind::Main,
            quote!(),
            quote!(
                /// Docs.
                #[allow(unused)]
                pub async fn main() -> Result<(), std::io::Error> {
                    Ok(())
                }
            ),
        );
        assert!(
            got.starts_with(&expected(
                "#[doc = r\" Docs.\"] #[allow(unused)] pub fn main() -> Result<(), std::io::Error>"
            )),
            "{got}"
        );
        assert!(
            got.contains(&expected(
                "::core::future::Future<Output = Result<(), std::io::Error> >"
            )),
            "{got}"
        );
    }

    #[test]
    fn worker_threads_is_passed_to_the_builder() {
        let got = expanded(
            Kind::Main,
            quote!(worker_threads = 4),
            quote!(
                async fn main() {}
            ),
        );
        assert!(
            got.contains(&expected(
                "::weft::rt::Builder::new_multi_thread().worker_threads(4).enable_all()"
            )),
            "{got}"
        );
    }

    #[test]
    fn flavors_pick_the_constructor() {
        for (flavor, constructor) in [
            ("multi_thread", "new_multi_thread"),
            ("current_thread", "new_current_thread"),
            ("thread_per_core", "thread_per_core"),
        ] {
            let got = expanded(
                Kind::Main,
                quote!(flavor = #flavor),
                quote!(
                    async fn main() {}
                ),
            );
            let want = expected(&format!(
                "::weft::rt::Builder::{constructor}().enable_all()"
            ));
            assert!(got.contains(&want), "{flavor}: {got}");
        }
    }

    #[test]
    fn crate_renames_the_facade_path() {
        let got = expanded(
            Kind::Main,
            quote!(crate = "my_app::reexports::weft"),
            quote!(
                async fn main() {}
            ),
        );
        assert!(
            got.contains(&expected(
                "my_app::reexports::weft::rt::Builder::new_multi_thread()"
            )),
            "{got}"
        );
        assert_eq!(got.matches(&expected("weft::rt")).count(), 1, "{got}");
    }

    #[test]
    fn test_defaults_to_current_thread_and_keeps_attributes() {
        let got = expanded(
            Kind::Test,
            quote!(),
            quote!(
                #[should_panic(expected = "boom")]
                #[ignore]
                async fn panics() {
                    panic!("boom");
                }
            ),
        );
        let want = expected(
            r#"
            #[::core::prelude::v1::test]
            #[should_panic(expected = "boom")]
            #[ignore]
            fn panics() {
                let body = async move { panic!("boom"); };
                fn __weft_body_output<F>(body: F) -> F
                where F: ::core::future::Future<Output = ()>,
                { body }
                let body = __weft_body_output(body);
                #[allow(clippy::expect_used)]
                let runtime = ::weft::rt::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("failed to build the weft runtime for `#[weft::test]`");
                runtime.block_on(body)
            }
            "#,
        );
        assert_eq!(got, want);
    }

    #[test]
    fn test_takes_the_same_options() {
        let got = expanded(
            Kind::Test,
            quote!(flavor = "multi_thread", worker_threads = 2, crate = "weft2"),
            quote!(
                async fn parallel() {}
            ),
        );
        assert!(
            got.contains(&expected(
                "weft2::rt::Builder::new_multi_thread().worker_threads(2).enable_all()"
            )),
            "{got}"
        );
    }

    #[test]
    fn not_async_is_refused() {
        let errors = error(
            Kind::Main,
            quote!(),
            quote!(
                fn main() {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("`async` keyword is missing"),
            "{errors:?}"
        );
    }

    #[test]
    fn arguments_are_refused() {
        let errors = error(
            Kind::Test,
            quote!(),
            quote!(
                async fn takes(x: u32) {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("takes no arguments"), "{errors:?}");
    }

    #[test]
    fn generics_are_refused() {
        let errors = error(
            Kind::Main,
            quote!(),
            quote!(
                async fn main<T>() {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("cannot be generic"), "{errors:?}");

        let errors = error(
            Kind::Main,
            quote!(),
            quote!(
                async fn main()
                where
                    u8: Copy,
                {
                }
            ),
        );
        assert!(errors[0].contains("cannot be generic"), "{errors:?}");
    }

    #[test]
    fn unknown_option_is_refused() {
        let errors = error(
            Kind::Main,
            quote!(threads = 4),
            quote!(
                async fn main() {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("unknown option `threads`"), "{errors:?}");
    }

    #[test]
    fn bare_word_option_is_refused() {
        let errors = error(
            Kind::Main,
            quote!(multi_thread),
            quote!(
                async fn main() {}
            ),
        );
        assert!(errors[0].contains("expected `name = value`"), "{errors:?}");
    }

    #[test]
    fn values_of_the_wrong_type_are_refused() {
        for (args, message) in [
            (quote!(worker_threads = "4"), "takes an integer literal"),
            (quote!(worker_threads = 0), "at least 1"),
            (quote!(flavor = current_thread), "takes a string literal"),
            (quote!(flavor = "green"), "unknown runtime flavor `green`"),
            (quote!(crate = weft), "takes a string literal"),
            (quote!(crate = "not a path"), "is not a path"),
        ] {
            let errors = error(
                Kind::Main,
                args.clone(),
                quote!(
                    async fn main() {}
                ),
            );
            assert_eq!(errors.len(), 1, "{args}: {errors:?}");
            assert!(errors[0].contains(message), "{args}: {errors:?}");
        }
    }

    #[test]
    fn worker_threads_with_current_thread_is_refused() {
        let errors = error(
            Kind::Main,
            quote!(flavor = "current_thread", worker_threads = 2),
            quote!(
                async fn main() {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("no meaning with the current_thread"),
            "{errors:?}"
        );

        // A test is current-thread unless told otherwise.
        let errors = error(
            Kind::Test,
            quote!(worker_threads = 2),
            quote!(
                async fn t() {}
            ),
        );
        assert!(
            errors[0].contains("no meaning with the current_thread"),
            "{errors:?}"
        );
    }

    #[test]
    fn duplicate_option_is_refused() {
        let errors = error(
            Kind::Main,
            quote!(flavor = "multi_thread", flavor = "current_thread"),
            quote!(
                async fn main() {}
            ),
        );
        assert!(errors[0].contains("more than once"), "{errors:?}");
    }

    #[test]
    fn second_test_attribute_is_refused() {
        let errors = error(
            Kind::Test,
            quote!(),
            quote!(
                #[test]
                async fn twice() {}
            ),
        );
        assert!(errors[0].contains("already adds `#[test]`"), "{errors:?}");
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let errors = error(
            Kind::Main,
            quote!(threads = 4, flavor = 1),
            quote!(
                fn main<T>(x: T) {}
            ),
        );
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn expand_keeps_the_function_after_an_error() {
        let tokens = expand(
            Kind::Main,
            quote!(),
            quote!(
                fn main() {}
            ),
        );
        let text = normalize(&tokens.to_string());
        assert!(text.contains("compile_error !"), "{text}");
        assert!(text.ends_with(&expected("fn main() {}")), "{text}");
    }

    #[test]
    fn expand_reports_input_that_is_not_a_function() {
        let tokens = expand(
            Kind::Main,
            quote!(),
            quote!(
                struct NotAFunction;
            ),
        );
        let text = tokens.to_string();
        assert!(text.contains("compile_error"), "{text}");
    }
}
