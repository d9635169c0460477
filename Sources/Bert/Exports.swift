// The heads and the class table (ModelCatalog) are the model's vocabulary: whoever imports Bert sees them.

@_exported import ModelCatalog
