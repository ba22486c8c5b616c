//! The compiler's messages for the handler shapes people get wrong: each says which part is
//! wrong and what fixes it (`#[diagnostic::on_unimplemented]` on the handler and argument
//! traits). The expected messages are the `.stderr` files beside the cases in `tests/ui/`;
//! `TRYBUILD=overwrite` rewrites them after a deliberate change.

#[test]
fn handler_mistakes_name_the_fix() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
