// Stands in for optional modules that must never load in the executable (react-devtools-core).
module.exports = {};
