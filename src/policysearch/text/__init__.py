"""Chinese text: article numbers (第十二条), one tokenization for passages and queries, term discovery,
and passages cut on Chinese structure with exact offsets."""
