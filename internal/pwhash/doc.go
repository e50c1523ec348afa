// Package pwhash verifies the password hashes a broker's users may have:
// bcrypt ($2a$, $2b$, $2y$; what fedgan writes) and the two schemes of
// Mosquitto's mosquitto_passwd, PBKDF2-SHA512 ($7$, its default since
// 2.0) and salted SHA-512 ($6$, 1.6 and earlier), so that an existing
// Mosquitto password file works unchanged.
package pwhash
