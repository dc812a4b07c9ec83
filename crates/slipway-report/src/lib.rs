//! (in progress) One Finding model and its renderers.
