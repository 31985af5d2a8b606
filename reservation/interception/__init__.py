"""Exception interception before shipping: rules that hold an order for review before a
label is printed, and the review queue operators work through."""
