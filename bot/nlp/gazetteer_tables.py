"""Hand-kept tables: canonical country names with demonyms, and international organisations.

These are facts of common knowledge written for this project (MIT, like the code).
`build_data.py`
merges them with the CC0
Wikidata aliases into `data/geo.json.gz`; at run time only that file is read.
"""

from __future__ import annotations

# ISO2|canonical short name|extra English names ; demonyms and adjectives (comma-separated).
# Every UN member state plus the two observers (Holy See, Palestine), and Kosovo and Taiwan.
COUNTRIES = """
AF|Afghanistan||Afghan,Afghans
AL|Albania||Albanian,Albanians
DZ|Algeria||Algerian,Algerians
AD|Andorra||Andorran
AO|Angola||Angolan,Angolans
AG|Antigua and Barbuda|Antigua|Antiguan
AR|Argentina||Argentine,Argentinian,Argentines,Argentinians
AM|Armenia||Armenian,Armenians
AU|Australia||Australian,Australians
AT|Austria||Austrian,Austrians
AZ|Azerbaijan||Azerbaijani,Azeri,Azerbaijanis,Azeris
BS|Bahamas|The Bahamas|Bahamian
BH|Bahrain||Bahraini,Bahrainis
BD|Bangladesh||Bangladeshi,Bangladeshis
BB|Barbados||Barbadian
BY|Belarus|Byelorussia|Belarusian,Belarussian,Byelorussian,Belarusians
BE|Belgium||Belgian,Belgians
BZ|Belize||Belizean
BJ|Benin||Beninese
BT|Bhutan||Bhutanese
BO|Bolivia||Bolivian,Bolivians
BA|Bosnia and Herzegovina|Bosnia|Bosnian,Bosnians
BW|Botswana||Botswanan,Motswana
BR|Brazil||Brazilian,Brazilians
BN|Brunei||Bruneian
BG|Bulgaria||Bulgarian,Bulgarians
BF|Burkina Faso|Burkina|Burkinabe
BI|Burundi||Burundian,Burundians
CV|Cabo Verde|Cape Verde|Cape Verdean
KH|Cambodia||Cambodian,Cambodians
CM|Cameroon||Cameroonian,Cameroonians
CA|Canada||Canadian,Canadians
CF|Central African Republic||Central African
TD|Chad||Chadian,Chadians
CL|Chile||Chilean,Chileans
CN|China|Mainland China|Chinese
CO|Colombia||Colombian,Colombians
KM|Comoros||Comoran,Comorian
CG|Republic of the Congo|Congo-Brazzaville|Congolese
CD|Democratic Republic of the Congo|DR Congo,DRC,Congo,Congo-Kinshasa|
CR|Costa Rica||Costa Rican
CI|Cote d'Ivoire|Ivory Coast,Côte d'Ivoire|Ivorian,Ivorians
HR|Croatia||Croatian,Croat,Croatians,Croats
CU|Cuba||Cuban,Cubans
CY|Cyprus||Cypriot,Cypriots
CZ|Czech Republic|Czechia|Czech,Czechs
DK|Denmark||Danish,Dane,Danes
DJ|Djibouti||Djiboutian
DM|Dominica||Dominican
DO|Dominican Republic||
EC|Ecuador||Ecuadorian,Ecuadoran,Ecuadorians
EG|Egypt||Egyptian,Egyptians
SV|El Salvador||Salvadoran,Salvadorean,Salvadorans
GQ|Equatorial Guinea||Equatoguinean,Equatorial Guinean
ER|Eritrea||Eritrean,Eritreans
EE|Estonia||Estonian,Estonians
SZ|Eswatini|Swaziland|Swazi,Swazis
ET|Ethiopia||Ethiopian,Ethiopians
FJ|Fiji||Fijian,Fijians
FI|Finland||Finnish,Finn,Finns
FR|France||French,Frenchman
GA|Gabon||Gabonese
GM|Gambia|The Gambia|Gambian,Gambians
GE|Georgia||Georgian,Georgians
DE|Germany||German,Germans
GH|Ghana||Ghanaian,Ghanaians
GR|Greece||Greek,Greeks,Hellenic
GD|Grenada||Grenadian
GT|Guatemala||Guatemalan,Guatemalans
GN|Guinea||Guinean,Guineans
GW|Guinea-Bissau||Bissau-Guinean
GY|Guyana||Guyanese
HT|Haiti||Haitian,Haitians
VA|Holy See|Vatican,Vatican City|
HN|Honduras||Honduran,Hondurans
HU|Hungary||Hungarian,Hungarians
IS|Iceland||Icelandic,Icelander,Icelanders
IN|India||Indian,Indians
ID|Indonesia||Indonesian,Indonesians
IR|Iran||Iranian,Iranians
IQ|Iraq||Iraqi,Iraqis
IE|Ireland|Republic of Ireland|Irish
IL|Israel||Israeli,Israelis
IT|Italy||Italian,Italians
JM|Jamaica||Jamaican,Jamaicans
JP|Japan||Japanese
JO|Jordan||Jordanian,Jordanians
KZ|Kazakhstan||Kazakh,Kazakhstani,Kazakhs,Kazakhstanis
KE|Kenya||Kenyan,Kenyans
KI|Kiribati||I-Kiribati
KP|North Korea|DPRK,Democratic People's Republic of Korea|North Korean,North Koreans
KR|South Korea|Republic of Korea,ROK|South Korean,South Koreans
XK|Kosovo||Kosovar,Kosovan,Kosovars
KW|Kuwait||Kuwaiti,Kuwaitis
KG|Kyrgyzstan|Kyrgyz Republic,Kirghizia|Kyrgyz,Kyrgyzstani
LA|Laos|Lao PDR|Lao,Laotian
LV|Latvia||Latvian,Latvians
LB|Lebanon||Lebanese
LS|Lesotho||Basotho,Mosotho
LR|Liberia||Liberian,Liberians
LY|Libya||Libyan,Libyans
LI|Liechtenstein||Liechtensteiner
LT|Lithuania||Lithuanian,Lithuanians
LU|Luxembourg||Luxembourgish,Luxembourger
MG|Madagascar||Malagasy
MW|Malawi||Malawian,Malawians
MY|Malaysia||Malaysian,Malaysians
MV|Maldives||Maldivian
ML|Mali||Malian,Malians
MT|Malta||Maltese
MH|Marshall Islands||Marshallese
MR|Mauritania||Mauritanian,Mauritanians
MU|Mauritius||Mauritian
MX|Mexico||Mexican,Mexicans
FM|Micronesia|Federated States of Micronesia|Micronesian
MD|Moldova||Moldovan,Moldovans
MC|Monaco||Monegasque
MN|Mongolia||Mongolian,Mongolians
ME|Montenegro||Montenegrin
MA|Morocco||Moroccan,Moroccans
MZ|Mozambique||Mozambican,Mozambicans
MM|Myanmar|Burma|Burmese,Myanmarese
NA|Namibia||Namibian,Namibians
NR|Nauru||Nauruan
NP|Nepal||Nepali,Nepalese
NL|Netherlands|The Netherlands,Holland|Dutch
NZ|New Zealand||New Zealander,New Zealanders
NI|Nicaragua||Nicaraguan,Nicaraguans
NE|Niger||Nigerien
NG|Nigeria||Nigerian,Nigerians
MK|North Macedonia|Macedonia|Macedonian,Macedonians
NO|Norway||Norwegian,Norwegians
OM|Oman||Omani,Omanis
PK|Pakistan||Pakistani,Pakistanis
PW|Palau||Palauan
PS|Palestine|State of Palestine,Palestinian Territories|Palestinian,Palestinians
PA|Panama||Panamanian,Panamanians
PG|Papua New Guinea||Papua New Guinean
PY|Paraguay||Paraguayan,Paraguayans
PE|Peru||Peruvian,Peruvians
PH|Philippines|The Philippines|Filipino,Philippine,Filipinos
PL|Poland||Polish,Pole,Poles
PT|Portugal||Portuguese
QA|Qatar||Qatari,Qataris
RO|Romania||Romanian,Romanians
RU|Russia|Russian Federation|Russian,Russians
RW|Rwanda||Rwandan,Rwandans
KN|Saint Kitts and Nevis|St. Kitts and Nevis|Kittitian
LC|Saint Lucia|St. Lucia|Saint Lucian
VC|Saint Vincent and the Grenadines|St. Vincent and the Grenadines|Vincentian
WS|Samoa||Samoan,Samoans
SM|San Marino||Sammarinese
ST|Sao Tome and Principe|São Tomé and Príncipe|Santomean
SA|Saudi Arabia|Saudi|Saudi,Saudis
SN|Senegal||Senegalese
RS|Serbia||Serbian,Serb,Serbs,Serbians
SC|Seychelles||Seychellois
SL|Sierra Leone||Sierra Leonean
SG|Singapore||Singaporean,Singaporeans
SK|Slovakia|Slovak Republic|Slovak,Slovaks
SI|Slovenia||Slovenian,Slovene,Slovenians
SB|Solomon Islands||Solomon Islander
SO|Somalia||Somali,Somalis
ZA|South Africa||South African,South Africans
SS|South Sudan||South Sudanese
ES|Spain||Spanish,Spaniard,Spaniards
LK|Sri Lanka||Sri Lankan,Sri Lankans
SD|Sudan||Sudanese
SR|Suriname|Surinam|Surinamese
SE|Sweden||Swedish,Swede,Swedes
CH|Switzerland||Swiss
SY|Syria|Syrian Arab Republic|Syrian,Syrians
TW|Taiwan||Taiwanese
TJ|Tajikistan||Tajik,Tajikistani,Tajiks
TZ|Tanzania||Tanzanian,Tanzanians
TH|Thailand||Thai,Thais
TL|Timor-Leste|East Timor|Timorese
TG|Togo||Togolese
TO|Tonga||Tongan
TT|Trinidad and Tobago|Trinidad|Trinidadian
TN|Tunisia||Tunisian,Tunisians
TR|Turkey|Türkiye|Turkish,Turk,Turks
TM|Turkmenistan||Turkmen
TV|Tuvalu||Tuvaluan
UG|Uganda||Ugandan,Ugandans
UA|Ukraine||Ukrainian,Ukrainians
AE|United Arab Emirates|UAE,U.A.E.,Emirates|Emirati,Emiratis
GB|United Kingdom|UK,U.K.,Britain,Great Britain|British,Briton,Britons
US|United States|U.S.,US,USA,U.S.A.,United States of America,America|American,Americans
UY|Uruguay||Uruguayan,Uruguayans
UZ|Uzbekistan||Uzbek,Uzbekistani,Uzbeks
VU|Vanuatu||Ni-Vanuatu
VE|Venezuela||Venezuelan,Venezuelans
VN|Vietnam|Viet Nam|Vietnamese
YE|Yemen||Yemeni,Yemenis
ZM|Zambia||Zambian,Zambians
ZW|Zimbabwe||Zimbabwean,Zimbabweans
"""

# key|canonical|aliases (comma-separated; a key may take several lines). Upper-case aliases are
# matched case-sensitively.
# The last rows give Russian names of the organisations Russian-language news names most.
ORGANISATIONS = """
un|United Nations|UN,U.N.,United Nations Organization,UNO
unsc|UN Security Council|United Nations Security Council,U.N. Security Council,Security Council,UNSC
unga|UN General Assembly|United Nations General Assembly,U.N. General Assembly,General Assembly,UNGA
unhrc|UN Human Rights Council|United Nations Human Rights Council,Human Rights Council,UNHRC
unsg|UN Secretariat|United Nations Secretariat
ohchr|OHCHR|Office of the UN High Commissioner for Human Rights
ohchr|OHCHR|Office of the United Nations High Commissioner for Human Rights
unhcr|UNHCR|United Nations High Commissioner for Refugees,UN refugee agency
unhcr|UNHCR|U.N. refugee agency,UN Refugee Agency
unicef|UNICEF|United Nations Children's Fund
unesco|UNESCO|United Nations Educational, Scientific and Cultural Organization
undp|UNDP|United Nations Development Programme,United Nations Development Program
unep|UNEP|United Nations Environment Programme
unctad|UNCTAD|United Nations Conference on Trade and Development
unrwa|UNRWA|United Nations Relief and Works Agency
unodc|UNODC|United Nations Office on Drugs and Crime
wfp|World Food Programme|WFP,World Food Program
who|World Health Organization|WHO,World Health Organisation
fao|Food and Agriculture Organization|FAO
ilo|International Labour Organization|ILO,International Labor Organization
imf|International Monetary Fund|IMF
worldbank|World Bank|World Bank Group
icj|International Court of Justice|ICJ,World Court
icc|International Criminal Court|ICC
iaea|IAEA|International Atomic Energy Agency
wto|World Trade Organization|WTO,World Trade Organisation
osce|OSCE|Organization for Security and Co-operation in Europe
osce|OSCE|Organization for Security and Cooperation in Europe
osce|OSCE|Organisation for Security and Co-operation in Europe
nato|NATO|North Atlantic Treaty Organization,North Atlantic Alliance,Nato
eu|European Union|EU,E.U.
ec|European Commission|EC
ep|European Parliament|
coe|Council of Europe|
eaeu|Eurasian Economic Union|EAEU,EEU,Eurasian Union
eec|Eurasian Economic Commission|
csto|CSTO|Collective Security Treaty Organization,Collective Security Treaty Organisation
cis|Commonwealth of Independent States|CIS
sco|Shanghai Cooperation Organization|SCO,Shanghai Cooperation Organisation
brics|BRICS|
unionstate|Union State|Union State of Russia and Belarus
g7|G7|G-7,Group of Seven
g8|G8|G-8,Group of Eight
g20|G20|G-20,Group of Twenty
asean|ASEAN|Association of Southeast Asian Nations,Association of South East Asian Nations
au|African Union|AU
arableague|Arab League|League of Arab States
opec|OPEC|Organization of the Petroleum Exporting Countries,OPEC+
oic|Organisation of Islamic Cooperation|OIC
oic|Organisation of Islamic Cooperation|Organization of Islamic Cooperation
oic|Organisation of Islamic Cooperation|Organization of the Islamic Conference
gcc|Gulf Cooperation Council|GCC
oas|Organization of American States|OAS
apec|APEC|Asia-Pacific Economic Cooperation
oecd|OECD|Organisation for Economic Co-operation and Development
oecd|OECD|Organization for Economic Cooperation and Development
cica|CICA|Conference on Interaction and Confidence-Building Measures in Asia
ecowas|ECOWAS|Economic Community of West African States
mercosur|Mercosur|MERCOSUR
interpol|Interpol|INTERPOL
un|United Nations|ООН,Организация Объединённых Наций,Организация Объединенных Наций
unsc|UN Security Council|СБ ООН,Совет Безопасности ООН,Совбез ООН
unga|UN General Assembly|Генассамблея ООН,Генеральная Ассамблея ООН
osce|OSCE|ОБСЕ
nato|NATO|НАТО
eu|European Union|ЕС,Евросоюз,Евросоюза,Евросоюзе,Европейский союз
eaeu|Eurasian Economic Union|ЕАЭС,Евразийский экономический союз
csto|CSTO|ОДКБ
cis|Commonwealth of Independent States|СНГ
sco|Shanghai Cooperation Organization|ШОС
brics|BRICS|БРИКС
unionstate|Union State|Союзное государство,Союзного государства,Союзном государстве
g20|G20|G20,Группа двадцати
iaea|IAEA|МАГАТЭ
who|World Health Organization|ВОЗ
wto|World Trade Organization|ВТО
"""
