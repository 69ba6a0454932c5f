'use strict';
// The addon is optional: where it did not build, require() throws and tally-agent falls back to node:dgram.
module.exports = require('./build/Release/udp_mmsg.node');
