//! `build_global`, in its own test binary (the global pool is per process).

use weft_pool::{ErrorKind, ThreadPoolBuilder};

#[test]
fn build_global_once_then_a_typed_error() {
    ThreadPoolBuilder::new()
        .num_threads(3)
        .thread_name(|i| format!("global-{i}"))
        .build_global()
        .unwrap();
    assert_eq!(weft_pool::current_num_threads(), 3);
    let name = weft_pool::join(|| std::thread::current().name().map(String::from), || ()).0;
    assert!(name.unwrap().starts_with("global-"));
    let error = ThreadPoolBuilder::new().build_global().unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::GlobalPoolAlreadyInitialized
    ));
    assert!(error.to_string().contains("already"));
}
