"""What people do with the links of a message: a tracked click and "I've switched it off"
(`clicks`), one-click unsubscribe (`unsubscribe`), their own data and its erasure (`privacy`)."""
