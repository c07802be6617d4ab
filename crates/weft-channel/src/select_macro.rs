//! The [`select!`](crate::select!) macro: parses its arms, binds each channel
//! expression once, and expands to a [`Select`](crate::Select) over them.

/// Waits on several channel operations at once and runs the arm of the one that
/// completes (crossbeam-channel's syntax).
///
/// ```text
/// select! {
///     recv(receiver) -> result => body,          // result: Result<T, RecvError>
///     send(sender, message) -> result => body,   // result: Result<(), SendError<T>>
///     default => body,                           // optional: if none is ready now
///     default(timeout) => body,                  // or: if none is ready in time
/// }
/// ```
///
/// Each channel expression is evaluated once, before waiting; a send's message
/// expression is evaluated only if that send is selected. When several operations
/// are ready, one is picked at random. A disconnected channel's operation is always
/// ready (with an error result). Put `never()` in an arm to switch it off, and
/// `after(d)` for a one-off timeout arm.
///
/// Progress and cost: as [`Select`](crate::Select), which this expands to.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_channel::{bounded, select, unbounded};
///
/// let (s1, r1) = unbounded();
/// let (s2, r2) = bounded(1);
/// s1.send(10).unwrap();
///
/// // One receive is ready: it is taken.
/// select! {
///     recv(r1) -> msg => assert_eq!(msg, Ok(10)),
///     recv(r2) -> msg => panic!("r2 is empty: {msg:?}"),
/// }
///
/// // A send into a channel with room, or give up after a while.
/// select! {
///     send(s2, 20) -> res => res.unwrap(),
///     default(Duration::from_millis(100)) => panic!("s2 has room"),
/// }
/// assert_eq!(r2.recv(), Ok(20));
///
/// // Nothing ready: the default arm runs at once.
/// let got = select! {
///     recv(r1) -> _ => "message",
///     default => "nothing",
/// };
/// assert_eq!(got, "nothing");
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_internal!(@parse [] [] $($tokens)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_internal {
    // ---- parsing: @parse [arms] [default] tokens ----
    (@parse [$($arms:tt)*] [$($def:tt)*]) => {
        $crate::__select_internal!(@emit __sel __oper [] [] [$($def)*] $($arms)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] , $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)*] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)* (recv ($r) ($res) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)* (recv ($r) ($res) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr) -> $res:pat => $body:expr) => {
        $crate::__select_internal!(@parse [$($arms)* (recv ($r) ($res) ($body))] [$($def)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $m:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)* (send ($s) ($m) ($res) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $m:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)* (send ($s) ($m) ($res) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $m:expr) -> $res:pat => $body:expr) => {
        $crate::__select_internal!(@parse [$($arms)* (send ($s) ($m) ($res) ($body))] [$($def)*])
    };
    (@parse [$($arms:tt)*] []
        default => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)*] [(now) ($body)] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default => $body:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)*] [(now) ($body)] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default => $body:expr) => {
        $crate::__select_internal!(@parse [$($arms)*] [(now) ($body)])
    };
    (@parse [$($arms:tt)*] []
        default($t:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)*] [(timeout $t) ($body)] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default($t:expr) => $body:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse [$($arms)*] [(timeout $t) ($body)] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default($t:expr) => $body:expr) => {
        $crate::__select_internal!(@parse [$($arms)*] [(timeout $t) ($body)])
    };
    (@parse [$($arms:tt)*] [$($def:tt)+] default $($rest:tt)*) => {
        compile_error!("select! has more than one `default` arm")
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] $($rest:tt)+) => {
        compile_error!("select! arms are `recv(r) -> res => body`, `send(s, msg) -> res => body`, `default => body` or `default(timeout) => body`")
    };

    // ---- emitting: bind each channel once, then build and run the Select ----
    (@emit $sel:ident $oper:ident [$($reg:tt)*] [$($disp:tt)*] [$($def:tt)*]
        (recv ($r:expr) ($res:pat) ($body:expr)) $($arms:tt)*) => {
        match &$r {
            __chan => $crate::__select_internal!(@emit $sel $oper
                [$($reg)* let __index = $sel.recv(__chan);]
                [$($disp)* if $oper.index() == __index {
                    let $res = $oper.recv(__chan);
                    $body
                } else]
                [$($def)*] $($arms)*),
        }
    };
    (@emit $sel:ident $oper:ident [$($reg:tt)*] [$($disp:tt)*] [$($def:tt)*]
        (send ($s:expr) ($m:expr) ($res:pat) ($body:expr)) $($arms:tt)*) => {
        match &$s {
            __chan => $crate::__select_internal!(@emit $sel $oper
                [$($reg)* let __index = $sel.send(__chan);]
                [$($disp)* if $oper.index() == __index {
                    let $res = $oper.send(__chan, $m);
                    $body
                } else]
                [$($def)*] $($arms)*),
        }
    };
    (@emit $sel:ident $oper:ident [$($reg:tt)*] [$($disp:tt)*] []) => {{
        let mut $sel = $crate::Select::new();
        $($reg)*
        let $oper = $sel.select();
        $($disp)* { ::core::unreachable!("select! got back an operation it did not add") }
    }};
    (@emit $sel:ident $oper:ident [$($reg:tt)*] [$($disp:tt)*] [(now) ($body:expr)]) => {{
        let mut $sel = $crate::Select::new();
        $($reg)*
        match $sel.try_select() {
            ::core::result::Result::Ok($oper) => {
                $($disp)* { ::core::unreachable!("select! got back an operation it did not add") }
            }
            ::core::result::Result::Err(_) => $body,
        }
    }};
    (@emit $sel:ident $oper:ident [$($reg:tt)*] [$($disp:tt)*] [(timeout $t:expr) ($body:expr)]) => {{
        let mut $sel = $crate::Select::new();
        $($reg)*
        match $sel.select_timeout($t) {
            ::core::result::Result::Ok($oper) => {
                $($disp)* { ::core::unreachable!("select! got back an operation it did not add") }
            }
            ::core::result::Result::Err(_) => $body,
        }
    }};
}
