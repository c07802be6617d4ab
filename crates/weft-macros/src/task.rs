//! `#[task]`: a function becomes a registered weft-process task.
//!
//! ```text
//! #[task]                                  #[derive(Clone, Copy, ..)] pub struct square;
//! pub fn square(x: u64) -> u64 {     =>    impl square { pub fn run(x: u64) -> u64 { x * x } }
//!     x * x                                impl $crate::Task for square { type Args = u64; .. }
//! }                                        inventory::submit! { Registration::of::<square>() }
//! ```

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, FnArg, GenericArgument, ItemFn, Lit, Meta, PathArguments, ReturnType, Token,
    Type,
};

/// Expands one `#[task]`; a mistake becomes `compile_error!` plus the function as
/// written.
pub(crate) fn expand(
    args: TokenStream,
    item: TokenStream,
    default_crate: syn::Path,
) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(item);
            return tokens;
        }
    };
    match try_expand(args, &function, default_crate) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(quote!(#function));
            tokens
        }
    }
}

struct Options {
    crate_path: syn::Path,
    name: Option<syn::LitStr>,
}

fn parse_options(args: TokenStream, default_crate: syn::Path) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut options = Options {
        crate_path: default_crate,
        name: None,
    };
    let mut errors: Vec<syn::Error> = Vec::new();
    for meta in metas {
        let Meta::NameValue(name_value) = meta else {
            errors.push(syn::Error::new(
                meta.span(),
                "expected `name = \"..\"` or `crate = \"..\"` in `#[task(..)]`",
            ));
            continue;
        };
        let key = name_value
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let text = match &name_value.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(text),
                ..
            }) => text.clone(),
            other => {
                errors.push(syn::Error::new(
                    other.span(),
                    format!("`{key}` takes a string literal"),
                ));
                continue;
            }
        };
        match key.as_str() {
            "crate" => match text.parse::<syn::Path>() {
                Ok(path) => options.crate_path = path,
                Err(_) => errors.push(syn::Error::new(
                    text.span(),
                    "`crate` takes a path to weft-process's API, like `crate = \"weft_process\"`",
                )),
            },
            "name" => {
                if text.value().is_empty() {
                    errors.push(syn::Error::new(text.span(), "a task name cannot be empty"));
                } else {
                    options.name = Some(text);
                }
            }
            _ => errors.push(syn::Error::new(
                name_value.path.span(),
                format!(
                    "unknown option `{key}` in `#[task(..)]`; the options are `crate` and `name`"
                ),
            )),
        }
    }
    combine(errors)?;
    Ok(options)
}

fn combine(errors: Vec<syn::Error>) -> syn::Result<()> {
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

fn check_signature(function: &ItemFn) -> syn::Result<()> {
    let signature = &function.sig;
    let mut errors = Vec::new();
    if let Some(asyncness) = signature.asyncness {
        errors.push(syn::Error::new(
            asyncness.span(),
            "a process task is a plain `fn`: the worker calls it synchronously (remove `async`)",
        ));
    }
    if let Some(unsafety) = signature.unsafety {
        errors.push(syn::Error::new(
            unsafety.span(),
            "a process task cannot be `unsafe fn`",
        ));
    }
    if !signature.generics.params.is_empty() || signature.generics.where_clause.is_some() {
        errors.push(syn::Error::new(
            signature.generics.span(),
            "a process task cannot be generic: the worker finds it by one name",
        ));
    }
    if let Some(variadic) = &signature.variadic {
        errors.push(syn::Error::new(
            variadic.span(),
            "a process task cannot be variadic",
        ));
    }
    for input in &signature.inputs {
        if let FnArg::Receiver(receiver) = input {
            errors.push(syn::Error::new(
                receiver.span(),
                "a process task is a free function, without `self`",
            ));
        }
    }
    combine(errors)
}

/// `Result<T, E>` spelled out (any path ending in `Result` with two type arguments).
fn split_result(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    let types: Vec<&Type> = arguments
        .args
        .iter()
        .filter_map(|argument| match argument {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    match types.as_slice() {
        [output, error] if arguments.args.len() == 2 => Some(((*output).clone(), (*error).clone())),
        _ => None,
    }
}

fn try_expand(
    args: TokenStream,
    function: &ItemFn,
    default_crate: syn::Path,
) -> syn::Result<TokenStream> {
    let options = parse_options(args, default_crate);
    let signature = check_signature(function);
    let options = match (options, signature) {
        (Ok(options), Ok(())) => options,
        (Err(mut first), Err(second)) => {
            first.combine(second);
            return Err(first);
        }
        (Err(error), Ok(())) | (Ok(_), Err(error)) => return Err(error),
    };
    let krate = &options.crate_path;
    let ident = &function.sig.ident;
    let vis = &function.vis;
    let (docs, others): (Vec<_>, Vec<_>) = function
        .attrs
        .iter()
        .partition(|attribute| attribute.path().is_ident("doc"));

    let types: Vec<&Type> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(&*typed.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let names: Vec<syn::Ident> = (0..types.len())
        .map(|i| format_ident!("__arg{i}"))
        .collect();
    let (args_ty, unpack) = match types.as_slice() {
        [] => (quote!(()), quote!(let () = args;)),
        [single] => (quote!(#single), quote!(let __arg0 = args;)),
        many => (quote!((#(#many,)*)), quote!(let (#(#names,)*) = args;)),
    };

    let (output_ty, error_ty, wrap) = match &function.sig.output {
        ReturnType::Default => (quote!(()), quote!(#krate::NoError), true),
        ReturnType::Type(_, ty) => match split_result(ty) {
            Some((output, error)) => (quote!(#output), quote!(#error), false),
            None => (quote!(#ty), quote!(#krate::NoError), true),
        },
    };
    let call = if wrap {
        quote!(::core::result::Result::Ok(#ident::run(#(#names),*)))
    } else {
        quote!(#ident::run(#(#names),*))
    };
    let name = match &options.name {
        Some(name) => quote!(#name),
        None => {
            let text = ident.to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #text))
        }
    };
    let inputs = &function.sig.inputs;
    let output = &function.sig.output;
    let constness = &function.sig.constness;
    let block = &function.block;
    let run_doc = format!(
        "Runs the task `{ident}` here, in this process (the body as written under `#[task]`)."
    );

    Ok(quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::default::Default, ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash)]
        #vis struct #ident;

        impl #ident {
            /// The name workers know this task by.
            #vis const NAME: &'static str = #name;

            #[doc = #run_doc]
            #(#others)*
            #vis #constness fn run(#inputs) #output #block
        }

        impl #krate::Task for #ident {
            type Args = #args_ty;
            type Output = #output_ty;
            type Error = #error_ty;
            const NAME: &'static str = #ident::NAME;
            fn call(args: Self::Args) -> ::core::result::Result<Self::Output, Self::Error> {
                #unpack
                #call
            }
        }

        #krate::__private::inventory::submit! {
            #krate::Registration::of::<#ident>()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_text(args: TokenStream, item: TokenStream) -> String {
        expand(args, item, syn::parse_quote!(::weft::process)).to_string()
    }

    fn error_of(args: TokenStream, item: TokenStream) -> String {
        let function: ItemFn = syn::parse2(item).expect("test input is a function");
        match try_expand(args, &function, syn::parse_quote!(::weft::process)) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(error) => error
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn a_result_gives_output_and_error_types() {
        let text = expand_text(
            quote!(),
            quote!(
                pub fn parse(text: String, radix: u32) -> Result<u64, String> {
                    todo!()
                }
            ),
        );
        assert!(text.contains("type Args = (String , u32 ,)"), "{text}");
        assert!(text.contains("type Output = u64"), "{text}");
        assert!(text.contains("type Error = String"), "{text}");
        assert!(text.contains("pub struct parse"), "{text}");
        assert!(
            text.contains(":: weft :: process :: __private :: inventory :: submit !"),
            "{text}"
        );
    }

    #[test]
    fn other_returns_are_infallible_and_one_argument_is_not_a_tuple() {
        let text = expand_text(
            quote!(),
            quote!(
                fn square(x: u64) -> u64 {
                    x * x
                }
            ),
        );
        assert!(text.contains("type Args = u64"), "{text}");
        assert!(
            text.contains("type Error = :: weft :: process :: NoError"),
            "{text}"
        );
        assert!(
            text.contains(":: core :: result :: Result :: Ok (square :: run (__arg0))"),
            "{text}"
        );
        let text = expand_text(
            quote!(),
            quote!(
                fn nothing() {}
            ),
        );
        assert!(text.contains("type Args = ()"), "{text}");
        assert!(text.contains("type Output = ()"), "{text}");
    }

    #[test]
    fn options_set_the_path_and_the_name() {
        let text = expand_text(
            quote!(crate = "my::process", name = "jobs::square"),
            quote!(
                fn square(x: u64) -> u64 {
                    x * x
                }
            ),
        );
        assert!(
            text.contains("impl my :: process :: Task for square"),
            "{text}"
        );
        assert!(text.contains("\"jobs::square\""), "{text}");
    }

    #[test]
    fn mistakes_are_reported_together() {
        let errors = error_of(
            quote!(flavor = "x"),
            quote!(
                async unsafe fn bad<T>(x: T) {}
            ),
        );
        for expected in [
            "unknown option `flavor`",
            "remove `async`",
            "`unsafe fn`",
            "cannot be generic",
        ] {
            assert!(
                errors.contains(expected),
                "missing {expected:?} in {errors}"
            );
        }
        let errors = error_of(
            quote!(),
            quote!(
                fn method(&self) {}
            ),
        );
        assert!(errors.contains("without `self`"), "{errors}");
        let errors = error_of(
            quote!(name = ""),
            quote!(
                fn f() {}
            ),
        );
        assert!(errors.contains("cannot be empty"), "{errors}");
    }

    #[test]
    fn an_error_keeps_the_function() {
        let text = expand_text(
            quote!(bogus = "1"),
            quote!(
                fn kept() {}
            ),
        );
        assert!(text.contains("compile_error"), "{text}");
        assert!(text.contains("fn kept"), "{text}");
    }
}
